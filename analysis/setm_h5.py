"""setm_h5 -- load setm's HDF5 outputs (a run, or a sweep) into plain numpy structures.

A run file (``setm run ... -o RUN.h5``) holds root attributes, tables (a group of equal-length 1-D
column datasets, each with ``units`` and ``description`` attributes) and ``/summary`` (scalar
datasets with a ``units`` attribute); analysis/SCHEMA.md lists them all.  A sweep file
(``DIR/sweep.h5``) holds the ``/runs`` parameter table, a ``/summary`` table (one row per run)
and external links ``/files/run-NNNN`` to the run files.

Nothing here knows the column names: tables and columns are discovered, so tables added later
(``/blocks``, ``/transactions``) load the same way.  Fixed-length byte strings come back as numpy
``str`` arrays, string attributes as ``str``, scalars as Python ``int``/``float``.

    run = setm_h5.open_run("out/case_study.h5")
    run.attrs["seed"], run.summary["mean_price"], run.tables()
    trades = run.table("trades")          # a dict of column arrays: pd.DataFrame(trades) works
    trades.units["price"]                 # 'EUR/MWh'

    sweep = setm_h5.open_sweep("out/sweep/sweep.h5")
    sweep.frame()                         # /runs and /summary columns side by side, one row per run
    sweep.run(0).table("trades")          # follows the external link /files/run-0000

pandas and xarray (imported only when asked for):

    run.dataframe("trades")               # pandas.DataFrame, units in df.attrs["units"]
    run.dataset()                         # xarray.Dataset: every table, dimension per table
    sweep.dataframe()                     # one row per run: swept keys, seed, status, summaries
    sweep.dataset()                       # xarray.Dataset: summaries over (swept keys..., rep)

Each table group also holds a netCDF-4 dimension scale ``row`` (no data; attached to every
column) so ``xarray.open_dataset(path, group="trades", engine="h5netcdf")`` works without this
module; the loader skips it (``is_dimension``).

Every failure to read is a SetmH5Error whose message names the file and what is wrong or
missing (not an HDF5 file, truncated, no such table, ...).
"""

import configparser
import os

import h5py
import numpy as np

__all__ = ["SetmH5Error", "Table", "Run", "Sweep", "open_run", "open_sweep", "open_any",
           "decode", "is_dimension"]


class SetmH5Error(Exception):
    """A setm HDF5 file could not be read as expected.  ``path`` is the file, ``what`` the
    missing or broken part (a table, a column, an attribute), or None for the file itself."""

    def __init__(self, path, message=None, what=None):
        if message is None:  # SetmH5Error("message"): a failure not tied to one file
            path, message = None, path
        self.path = None if path is None else str(path)
        self.what = what
        super().__init__(f"{self.path}: {message}" if self.path else message)


def is_dimension(ds):
    """True for an HDF5 dimension scale (the ``row`` dataset of each table), which is not a
    column."""
    return decode(ds.attrs.get("CLASS", b"")) == "DIMENSION_SCALE"


def decode(value):
    """Bytes (and numpy byte arrays / scalars) to str; numpy scalars to Python scalars; the rest
    unchanged.  Strings are UTF-8."""
    if isinstance(value, (bytes, np.bytes_)):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "S":
            return np.char.decode(value, "utf-8", errors="replace")
        if value.dtype.kind == "O":
            return np.array([decode(v) for v in value.ravel()], dtype=str).reshape(value.shape)
        if value.ndim == 0:
            return value[()].item()
        return value
    if isinstance(value, np.generic):
        return value.item()
    return value


class Table(dict):
    """One table: a dict of column name -> 1-D numpy array (so ``pd.DataFrame(table)`` works),
    plus ``name``, ``units`` and ``descriptions`` (dicts keyed by column) and ``nrows``."""

    def __init__(self, name, columns, units, descriptions):
        super().__init__(columns)
        self.name = name
        self.units = units
        self.descriptions = descriptions
        self.nrows = len(next(iter(columns.values()))) if columns else 0

    def __repr__(self):
        return f"<Table /{self.name}: {self.nrows} rows, columns {list(self)}>"

    def dataframe(self):
        """The table as a pandas.DataFrame (one column per column, file order); ``df.attrs``
        holds ``units`` and ``descriptions``."""
        import pandas as pd
        df = pd.DataFrame(dict(self))
        df.attrs["table"] = self.name
        df.attrs["units"] = dict(self.units)
        df.attrs["descriptions"] = dict(self.descriptions)
        return df

    def dataset(self, dim=None):
        """The table as an xarray.Dataset along one dimension (``dim``, default the table's
        name); each variable carries ``units`` and ``description`` attributes."""
        import xarray as xr
        dim = dim or self.name
        return xr.Dataset({c: xr.Variable((dim,), v, {"units": self.units[c],
                                                        "description": self.descriptions[c]})
                           for c, v in self.items()})


def _open(path):
    """h5py.File opened read-only, or SetmH5Error saying why not."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise SetmH5Error(path, "no such file")
    if os.path.isdir(path):
        raise SetmH5Error(path, "is a directory, not an HDF5 file")
    try:
        if not h5py.is_hdf5(path):
            raise SetmH5Error(path, "not an HDF5 file (no HDF5 signature)")
        return h5py.File(path, "r")
    except SetmH5Error:
        raise
    except OSError as exc:
        msg = str(exc)
        if "truncated" in msg or "eof" in msg.lower():
            raise SetmH5Error(path, f"truncated HDF5 file ({msg})") from exc
        raise SetmH5Error(path, f"cannot open as HDF5 ({msg})") from exc


def _attrs(path, obj):
    out = {}
    try:
        for k in obj.attrs:
            out[k] = decode(obj.attrs[k])
    except (OSError, KeyError, RuntimeError) as exc:
        raise SetmH5Error(path, f"cannot read attributes of {obj.name} ({exc})") from exc
    return out


def _read_table(path, root, name):
    """Table `name` under group `root`, checked: a group of 1-D datasets of equal length."""
    if name not in root:
        have = _tables_of(root)
        raise SetmH5Error(path, f"no table /{name} (tables: {', '.join(have) or 'none'})",
                          what=name)
    grp = root[name]
    if not isinstance(grp, h5py.Group):
        raise SetmH5Error(path, f"/{name} is not a table (a group of column datasets)", what=name)
    columns, units, descriptions = {}, {}, {}
    n = None
    for col in grp:
        ds = grp[col]
        if isinstance(ds, h5py.Dataset) and is_dimension(ds):
            continue
        if not isinstance(ds, h5py.Dataset) or ds.ndim != 1:
            raise SetmH5Error(path, f"/{name}/{col} is not a 1-D column", what=f"{name}/{col}")
        try:
            data = ds[()]
        except (OSError, RuntimeError) as exc:
            raise SetmH5Error(path, f"cannot read /{name}/{col} (truncated or corrupt? {exc})",
                              what=f"{name}/{col}") from exc
        if n is None:
            n = len(data)
        elif len(data) != n:
            raise SetmH5Error(path, f"/{name}/{col} has {len(data)} rows, other columns {n}",
                              what=f"{name}/{col}")
        columns[col] = decode(data)
        units[col] = decode(ds.attrs.get("units", ""))
        descriptions[col] = decode(ds.attrs.get("description", ""))
    return Table(name, columns, units, descriptions)


def _tables_of(root):
    return sorted(k for k in root if k != "summary" and isinstance(root.get(k), h5py.Group))


class Run:
    """One run file (or a run reached through a sweep's external link; ``path`` is the run file
    itself).  Attributes, summary and the list of tables are read at open; tables on demand."""

    def __init__(self, path):
        self.path = os.fspath(path)
        with _open(self.path) as f:
            self.attrs = _attrs(self.path, f)
            if "complete" not in self.attrs:
                raise SetmH5Error(self.path, "not a setm run file (no root attribute 'complete')",
                                  what="complete")
            if "n_runs" in self.attrs:
                raise SetmH5Error(self.path, "is a sweep file: use open_sweep()")
            self.summary, self.summary_units = {}, {}
            if "summary" in f:
                for k, ds in f["summary"].items():
                    if isinstance(ds, h5py.Dataset) and ds.shape == ():
                        self.summary[k] = decode(ds[()])
                        self.summary_units[k] = decode(ds.attrs.get("units", ""))
            self._tables = _tables_of(f)
        self._cache = {}

    def __repr__(self):
        return f"<Run {self.path}: tables {self._tables}>"

    @property
    def complete(self):
        """True when the simulator finished writing the file (root attribute complete = 1)."""
        return self.attrs.get("complete") == 1

    def tables(self):
        """Names of the tables in the file (``summary`` excluded), sorted."""
        return list(self._tables)

    def has_table(self, name):
        return name in self._tables

    def table(self, name):
        """Table `name` (``"trades"``, ``"/trades"``); SetmH5Error naming the file when absent."""
        name = name.strip("/")
        if name not in self._cache:
            with _open(self.path) as f:
                self._cache[name] = _read_table(self.path, f, name)
        return self._cache[name]

    __getitem__ = table

    def dataframe(self, name):
        """Table `name` as a pandas.DataFrame (see Table.dataframe)."""
        return self.table(name).dataframe()

    def dataset(self):
        """The whole run as one xarray.Dataset: variable ``TABLE.COLUMN`` along dimension
        ``TABLE`` for every table, ``summary.NAME`` scalars, and the root attributes
        (scenario, seed, version, ...) as ``attrs``."""
        import xarray as xr
        ds = xr.Dataset(attrs=dict(self.attrs))
        for t in self._tables:
            for c, v in self.table(t).dataset().items():
                ds[f"{t}.{c}"] = v
        for k, v in self.summary.items():
            ds[f"summary.{k}"] = xr.Variable((), v, {"units": self.summary_units[k]})
        return ds

    def column(self, table, col):
        t = self.table(table)
        if col not in t:
            raise SetmH5Error(self.path, f"table /{t.name} has no column {col!r} "
                              f"(columns: {', '.join(t)})", what=f"{t.name}/{col}")
        return t[col]

    def config(self):
        """The resolved scenario (root attribute ``scenario``) as {section: {key: value}}."""
        cp = configparser.ConfigParser(interpolation=None, strict=False,
                                       inline_comment_prefixes=(";", "#"))
        cp.optionxform = str
        cp.read_string(self.attrs.get("scenario", ""))
        return {s: dict(cp[s]) for s in cp.sections()}

    @property
    def name(self):
        return self.attrs.get("scenario_name") or os.path.basename(self.path)


class Sweep:
    """A sweep file: ``attrs``, ``params`` (the swept keys, in order), ``runs`` (the /runs table),
    ``summaries`` (the /summary table: one row per run, NaN for failed runs)."""

    def __init__(self, path):
        self.path = os.fspath(path)
        self.dir = os.path.dirname(os.path.abspath(self.path))
        with _open(self.path) as f:
            self.attrs = _attrs(self.path, f)
            if "runs" not in f:
                raise SetmH5Error(self.path, "not a sweep file (no /runs table: is this a "
                                  "sweep.h5 from setm sweep?)", what="runs")
            self.runs = _read_table(self.path, f, "runs")
            self.summaries = (_read_table(self.path, f, "summary") if "summary" in f else
                              Table("summary", {}, {}, {}))
            self.units = dict(self.runs.units)
            for k, u in self.summaries.units.items():
                self.units[f"summary/{k}" if k in self.runs else k] = u
            self._links = {}
            if "files" in f:
                for k in f["files"]:
                    link = f["files"].get(k, getlink=True)
                    if isinstance(link, h5py.ExternalLink):
                        self._links[k] = link.filename
        keys = self.attrs.get("keys", "")
        self.params = [k for k in keys.split(",") if k]

    def __len__(self):
        return self.runs.nrows

    def __repr__(self):
        return f"<Sweep {self.path}: {len(self)} runs over {self.params}>"

    def frame(self):
        """/runs and /summary columns in one dict (one row per run), ready for pd.DataFrame.
        A summary name that is also a /runs column becomes ``summary/NAME`` (as plot_sweep.py)."""
        out = dict(self.runs)
        for k, v in self.summaries.items():
            out[f"summary/{k}" if k in out else k] = v
        return out

    def dataframe(self):
        """One row per run (pandas.DataFrame): the /runs columns (run, point, rep, seed, the
        swept keys, status, ...) then the /summary columns, named as in frame(); ``df.attrs``
        holds ``units`` and ``params`` (the swept keys)."""
        import pandas as pd
        df = pd.DataFrame(self.frame())
        df.attrs["units"] = dict(self.units)
        df.attrs["params"] = list(self.params)
        return df

    def dataset(self):
        """The sweep as an xarray.Dataset whose coordinates are the swept keys and ``rep`` (the
        repetition, one seed each): every /summary metric and /runs column is an array over
        (key1, key2, ..., rep), NaN where a combination was not run.  A sweep whose runs do not
        form such a grid (two runs with the same keys and rep) stays along dimension ``run``
        with the keys as coordinates."""
        df = self.dataframe()
        index = [k for k in self.params if k in df] + (["rep"] if "rep" in df else [])
        units = df.attrs["units"]
        if index and not df.duplicated(index).any():
            ds = df.set_index(index).to_xarray()
        else:
            ds = df.set_index("run" if "run" in df else df.index).to_xarray()
            ds = ds.set_coords([k for k in self.params if k in ds])
        for k in ds.variables:
            if units.get(k):
                ds[k].attrs["units"] = units[k]
        ds.attrs.update({k: v for k, v in self.attrs.items() if not isinstance(v, np.ndarray)})
        return ds

    def run_path(self, i):
        """Path of run `i`'s file, from its external link /files/run-NNNN (relative names are
        relative to the sweep file's folder, as HDF5 resolves them)."""
        fname = self.runs["file"][i]
        key = os.path.splitext(fname)[0]
        if key not in self._links:
            raise SetmH5Error(self.path, f"run {i} ({self.runs['status'][i]}) has no link "
                              f"/files/{key}", what=f"files/{key}")
        target = self._links[key]
        return target if os.path.isabs(target) else os.path.join(self.dir, target)

    def run(self, i):
        """Run `i` (the row of /runs) opened through its external link."""
        return Run(self.run_path(i))

    def ok(self):
        """Indices of the runs that completed."""
        return [i for i in range(len(self)) if self.runs["status"][i] == "ok"]


def open_run(path):
    return Run(path)


def open_sweep(path):
    """A sweep from its sweep.h5, or from the sweep's output folder."""
    if os.path.isdir(path):
        path = os.path.join(path, "sweep.h5")
    return Sweep(path)


def open_any(path):
    """Run or Sweep, whichever the file is."""
    if os.path.isdir(path):
        return open_sweep(path)
    with _open(path) as f:
        is_sweep = "n_runs" in f.attrs
    return Sweep(path) if is_sweep else Run(path)
