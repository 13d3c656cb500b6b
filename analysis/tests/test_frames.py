"""Outputs open in pandas and xarray: straight from the file (xarray + h5netcdf, no setm code,
thanks to the dimension scale each table carries) and through setm_h5's DataFrame / Dataset
loaders.  Every expectation is read independently with h5py from the same real files."""

import os
import warnings

import h5py
import numpy as np
import pandas as pd
import xarray as xr

import setm_h5


def h5_tables(path):
    """{table: {column: array}} read with h5py alone, skipping the dimension-scale dataset."""
    out = {}
    with h5py.File(path, "r") as f:
        for t, g in f.items():
            if t == "summary" or not isinstance(g, h5py.Group):
                continue
            out[t] = {c: d[()] for c, d in g.items()
                      if d.attrs.get("CLASS", b"") != b"DIMENSION_SCALE"}
    return out


def test_every_table_has_a_netcdf_dimension_scale(run_file):
    with h5py.File(run_file, "r") as f:
        for t, g in f.items():
            if t == "summary":
                continue
            row = g["row"]
            assert h5py.h5ds.is_scale(row.id), f"/{t}/row is not a dimension scale"
            for c, d in g.items():
                if c == "row":
                    continue
                assert d.dims[0][0] == row, f"/{t}/{c} is not attached to /{t}/row"
                assert row.shape == d.shape
            # no data of its own: nothing was written to it
            assert row.id.get_storage_size() == 0


def test_xarray_opens_each_table_without_the_loader(run_file):
    tables = h5_tables(run_file)
    assert {"trades", "slots", "agents", "blocks", "rounds"} <= set(tables)
    for t, cols in tables.items():
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # e.g. h5netcdf's phony-dimension warnings
            ds = xr.open_dataset(run_file, group=t, engine="h5netcdf")
        with ds:
            assert dict(ds.sizes) == {"row": len(next(iter(cols.values())))}
            assert set(ds.data_vars) == set(cols)
            for c, v in cols.items():
                got = ds[c].values
                if v.dtype.kind == "S":
                    got = np.array([x if isinstance(x, bytes) else str(x).encode() for x in got])
                np.testing.assert_array_equal(got, v, err_msg=f"/{t}/{c}")


def test_xarray_reads_units_attributes(run_file):
    with h5py.File(run_file, "r") as f:
        want = f["trades/price"].attrs["units"]
    with xr.open_dataset(run_file, group="trades", engine="h5netcdf") as ds:
        units = ds["price"].attrs["units"]
    assert (units.decode() if isinstance(units, bytes) else units) == \
        (want.decode() if isinstance(want, bytes) else want)


def test_dataframe_per_table_matches_file(run_file):
    run = setm_h5.open_run(run_file)
    for t, cols in h5_tables(run_file).items():
        df = run.dataframe(t)
        assert isinstance(df, pd.DataFrame)
        assert list(df.columns) == list(run.table(t)) and set(df.columns) == set(cols)
        for c, v in cols.items():
            want = np.char.decode(v, "utf-8") if v.dtype.kind == "S" else v
            np.testing.assert_array_equal(df[c].to_numpy(), want, err_msg=f"/{t}/{c}")
    assert run.dataframe("trades").attrs["units"]["price"] == "EUR/MWh"


def test_run_dataset_holds_every_table_and_summary(run_file):
    run = setm_h5.open_run(run_file)
    ds = run.dataset()
    assert isinstance(ds, xr.Dataset)
    tables = h5_tables(run_file)
    for t, cols in tables.items():
        n = len(next(iter(cols.values())))
        assert ds.sizes[t] == n
        for c in cols:
            assert ds[f"{t}.{c}"].dims == (t,)
    np.testing.assert_array_equal(ds["trades.price"].values, tables["trades"]["price"])
    with h5py.File(run_file, "r") as f:
        assert ds["summary.trades"].item() == f["summary/trades"][()]
        assert ds.attrs["seed"] == f.attrs["seed"]


def test_sweep_dataset_has_swept_keys_as_coordinates(sweep_dir):
    sw = setm_h5.open_sweep(sweep_dir)
    ds = sw.dataset()
    # SWEEP_INI: market.rounds_per_slot = 2, 4 and seeds = 2
    assert list(ds.coords["market.rounds_per_slot"].values) == [2, 4]
    assert list(ds.coords["rep"].values) == [0, 1]
    assert ds["trades"].dims == ("market.rounds_per_slot", "rep")
    with h5py.File(os.path.join(sweep_dir, "sweep.h5"), "r") as f:
        rps, rep = f["runs/market.rounds_per_slot"][()], f["runs/rep"][()]
        trades = f["summary/trades"][()]
    for i in range(len(trades)):
        assert ds["trades"].sel({"market.rounds_per_slot": rps[i], "rep": rep[i]}).item() == \
            trades[i]
    # the mean across seeds, per swept value, as a researcher would take it
    np.testing.assert_allclose(ds["trades"].mean("rep").values,
                               [trades[rps == 2].mean(), trades[rps == 4].mean()])


def test_sweep_dataframe_one_row_per_run(sweep_dir):
    df = setm_h5.open_sweep(sweep_dir).dataframe()
    assert len(df) == 4 and df.attrs["params"] == ["market.rounds_per_slot"]
    assert {"run", "seed", "rep", "status", "trades", "mean_price"} <= set(df.columns)
    assert "row" not in df.columns


def test_sweep_off_grid_stays_along_run(tmp_path):
    """Two runs with the same key and rep (not a grid): the dataset keeps a run dimension."""
    p = tmp_path / "sweep.h5"
    with h5py.File(p, "w") as f:
        f.attrs["keys"] = "a"
        f["runs/run"] = np.arange(3)
        f["runs/rep"] = np.zeros(3, dtype=np.int64)
        f["runs/a"] = np.array([1, 1, 2])
        f["runs/status"] = np.array([b"ok"] * 3)
        f["summary/x"] = np.array([1.0, 2.0, 3.0])
    ds = setm_h5.open_sweep(str(p)).dataset()
    assert ds["x"].dims == ("run",)
    assert list(ds.coords["a"].values) == [1, 1, 2]
