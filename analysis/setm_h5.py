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

Every failure to read is a SetmH5Error whose message names the file and what is wrong or
missing (not an HDF5 file, truncated, no such table, ...).
"""

import configparser
import os

import h5py
import numpy as np

__all__ = ["SetmH5Error", "Table", "Run", "Sweep", "open_run", "open_sweep", "open_any",
           "decode"]


class SetmH5Error(Exception):
    """A setm HDF5 file could not be read as expected.  ``path`` is the file, ``what`` the
    missing or broken part (a table, a column, an attribute), or None for the file itself."""

    def __init__(self, path, message, what=None):
        self.path = str(path)
        self.what = what
        super().__init__(f"{self.path}: {message}")


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
            if "n_runs" not in self.attrs:
                raise SetmH5Error(self.path, "not a sweep file (no root attribute 'n_runs')",
                                  what="n_runs")
            self.runs = _read_table(self.path, f, "runs")
            self.summaries = _read_table(self.path, f, "summary")
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
