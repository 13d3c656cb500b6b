"""setm_h5 against what the C side wrote: the same arrays as h5py reads, known values, the
error paths, and a sweep followed through its external links."""

import math
import os
import shutil

import h5py
import numpy as np
import pytest

import setm_h5


def columns(group):
    """(name, dataset) of a table group's columns: the netCDF dimension scale ``row`` that each
    table also holds (analysis/SCHEMA.md, Conventions) is not one."""
    return [(c, d) for c, d in group.items() if d.attrs.get("CLASS", b"") != b"DIMENSION_SCALE"]


@pytest.fixture(scope="module")
def run(run_file):
    return setm_h5.open_run(run_file)


def raw(v):
    return np.char.decode(v, "utf-8") if v.dtype.kind == "S" else v


def test_every_table_equals_h5py(run, run_file):
    with h5py.File(run_file, "r") as f:
        tables = sorted(k for k in f if k != "summary")
        assert run.tables() == tables
        for t in tables:
            tab = run.table(t)
            assert isinstance(tab, dict) and list(tab) == [c for c, _ in columns(f[t])]
            for c, ds in columns(f[t]):
                want = raw(ds[()])
                got = tab[c]
                assert got.shape == want.shape and got.dtype.kind == want.dtype.kind, (t, c)
                np.testing.assert_array_equal(got, want, err_msg=f"/{t}/{c}")
                assert tab.units[c] == ds.attrs["units"]
                assert tab.descriptions[c] == ds.attrs["description"]


def test_attrs_and_summary_equal_h5py(run, run_file):
    with h5py.File(run_file, "r") as f:
        assert set(run.attrs) == set(f.attrs)
        for k in f.attrs:
            v = f.attrs[k]
            assert run.attrs[k] == (v.decode() if isinstance(v, bytes) else v.item()
                                    if hasattr(v, "item") else v)
        for k, ds in columns(f["summary"]):
            v = ds[()]
            assert (math.isnan(run.summary[k]) and math.isnan(v)) or run.summary[k] == v
            assert run.summary_units[k] == ds.attrs["units"]


def test_types_are_plain(run):
    assert isinstance(run.attrs["scenario"], str) and isinstance(run.attrs["seed"], int)
    assert isinstance(run.summary["trades"], float) and isinstance(run.summary["slots"], int)
    assert run.table("agents")["type"].dtype.kind == "U"
    assert run.complete


def test_known_values(run):
    cfg = run.config()
    days = float(cfg["sim"]["days"])
    per_day = 1440 // int(cfg["market"]["slot_minutes"])
    rps = int(cfg["market"]["rounds_per_slot"])
    s, r, t = run.table("slots"), run.table("rounds"), run.table("trades")
    assert s.nrows == days * per_day == run.summary["slots"] == 96
    assert r.nrows == s.nrows * rps == run.summary["rounds"]
    assert run.table("agents").nrows == run.summary["agents"] == 7
    assert run.table("agent_slots").nrows == 7 * s.nrows
    assert t.nrows == run.summary["trades"] > 0
    assert np.isclose(t["kwh"].sum(), run.summary["traded_kwh"])
    assert np.isclose((t["kwh"] * t["price"]).sum() / t["kwh"].sum(), run.summary["mean_price"])
    assert s["trades"].sum() == r["trades"].sum() == t.nrows
    np.testing.assert_array_equal(s["slot"], np.arange(s.nrows))
    np.testing.assert_array_equal(np.sort(t["id"]), np.arange(t.nrows))  # ids dense from 0
    for stage, a, b in (("request_agree", "t_request", "t_agree"),
                        ("agree_include", "t_agree", "t_included"),
                        ("include_confirm", "t_included", "t_confirmed")):
        lat = np.sort(t[b] - t[a])
        lat = lat[np.isfinite(lat)]
        if not len(lat):
            assert math.isnan(run.summary.get(f"latency_{stage}_p50", math.nan))
            continue
        assert np.isclose(run.summary[f"latency_{stage}_mean"], lat.mean()), stage
        for q in (50, 95):  # nearest rank, at the middle of its 1-second bin
            want = np.floor(lat[math.ceil(q / 100 * len(lat)) - 1]) + 0.5
            assert run.summary[f"latency_{stage}_p{q}"] == want, (stage, q)
    sec = run.table("security")
    assert (sec["attack"] != "none").sum() == run.summary["attacks_injected"] > 0
    assert sec["detected"].sum() == run.summary["attacks_detected"]
    assert run.attrs["seed"] == 1 and run.attrs["scenario_name"] == "case_study"
    assert set(run.table("agents")["type"]) >= {"solar_system", "smart_factory"}


def test_pandas_takes_a_table(run):
    import pandas as pd
    df = pd.DataFrame(run.table("trades"))
    assert len(df) == run.summary["trades"] and list(df.columns) == list(run.table("trades"))


def test_column_and_missing_column(run):
    assert run.column("trades", "price") is run.table("trades")["price"]
    with pytest.raises(setm_h5.SetmH5Error, match=r"run\.h5: table /trades has no column 'nope'"):
        run.column("trades", "nope")


def test_missing_table_names_file_and_table(run, run_file):
    with pytest.raises(setm_h5.SetmH5Error) as exc:
        run.table("no_such_table")
    assert run_file in str(exc.value) and "no table /" in str(exc.value)
    assert exc.value.path == run_file


def test_not_hdf5(tmp_path):
    p = tmp_path / "notes.h5"
    p.write_text("not an HDF5 file\n")
    with pytest.raises(setm_h5.SetmH5Error, match=r"notes\.h5: not an HDF5 file"):
        setm_h5.open_run(p)


def test_truncated(tmp_path, run_file):
    p = tmp_path / "cut.h5"
    data = open(run_file, "rb").read()
    p.write_bytes(data[: len(data) // 3])
    with pytest.raises(setm_h5.SetmH5Error, match=r"cut\.h5: truncated"):
        setm_h5.open_run(p)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(setm_h5.SetmH5Error, match="no such file"):
        setm_h5.open_run(tmp_path / "absent.h5")
    with pytest.raises(setm_h5.SetmH5Error, match="directory"):
        setm_h5.open_run(tmp_path)


def test_hdf5_but_not_a_run(tmp_path):
    p = tmp_path / "other.h5"
    with h5py.File(p, "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(setm_h5.SetmH5Error, match="not a setm run file"):
        setm_h5.open_run(p)


def test_incomplete_run_is_flagged(tmp_path, run_file):
    p = tmp_path / "half.h5"
    shutil.copy(run_file, p)
    with h5py.File(p, "a") as f:
        f.attrs["complete"] = np.int64(0)
    assert not setm_h5.open_run(p).complete


def test_ragged_table_is_an_error(tmp_path, run_file):
    p = tmp_path / "ragged.h5"
    shutil.copy(run_file, p)
    with h5py.File(p, "a") as f:
        del f["trades/price"]
        f["trades/price"] = np.zeros(3)
    with pytest.raises(setm_h5.SetmH5Error, match=r"/trades/price has 3 rows"):
        setm_h5.open_run(p).table("trades")


# ---- sweeps ----

@pytest.fixture(scope="module")
def sweep(sweep_dir):
    return setm_h5.open_sweep(sweep_dir)


def test_sweep_tables(sweep, sweep_dir):
    assert len(sweep) == 4 and sweep.params == ["market.rounds_per_slot"]
    assert sweep.attrs["n_runs"] == 4 and sweep.attrs["seeds"] == 2
    np.testing.assert_array_equal(sweep.runs["market.rounds_per_slot"], [2, 2, 4, 4])
    assert list(sweep.runs["status"]) == ["ok"] * 4 and sweep.ok() == [0, 1, 2, 3]
    frame = sweep.frame()
    assert {"run", "seed", "market.rounds_per_slot", "trades", "mean_price"} <= set(frame)
    assert len({len(v) for v in frame.values()}) == 1
    with h5py.File(os.path.join(sweep_dir, "sweep.h5"), "r") as f:
        for c, ds in columns(f["summary"]):
            np.testing.assert_array_equal(sweep.summaries[c], ds[()])


def test_sweep_runs_through_external_links(sweep, sweep_dir, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # links resolve against the sweep folder, not the cwd
    for i in range(len(sweep)):
        run = sweep.run(i)
        assert os.path.samefile(run.path, os.path.join(sweep_dir, sweep.runs["file"][i]))
        assert run.attrs["seed"] == sweep.runs["seed"][i]
        rps = sweep.runs["market.rounds_per_slot"][i]
        assert run.config()["market"]["rounds_per_slot"] == str(rps)
        assert run.table("rounds").nrows == run.summary["slots"] * rps
        for k, v in run.summary.items():
            assert v == sweep.summaries[k][i] or (math.isnan(v) and math.isnan(sweep.summaries[k][i]))
    # repetition 0 keeps the scenario seed; repetition 1 derives another, shared by the points
    assert sweep.runs["seed"][0] == sweep.runs["seed"][2] == 3
    assert sweep.runs["seed"][1] == sweep.runs["seed"][3] != 3


def test_open_any_and_wrong_kind(sweep_dir, run_file):
    assert isinstance(setm_h5.open_any(sweep_dir), setm_h5.Sweep)
    assert isinstance(setm_h5.open_any(run_file), setm_h5.Run)
    with pytest.raises(setm_h5.SetmH5Error, match="is a sweep file"):
        setm_h5.open_run(os.path.join(sweep_dir, "sweep.h5"))
    with pytest.raises(setm_h5.SetmH5Error, match="not a sweep file"):
        setm_h5.open_sweep(run_file)


def test_sweep_missing_link(tmp_path, sweep_dir):
    d = tmp_path / "copy"
    shutil.copytree(sweep_dir, d)
    with h5py.File(d / "sweep.h5", "a") as f:
        del f["files/run-0001"]
    sw = setm_h5.open_sweep(d)
    assert sw.run(0).complete
    with pytest.raises(setm_h5.SetmH5Error, match="no link /files/run-0001"):
        sw.run(1)


def test_default_run_has_no_attacks(plain_run_file):
    run = setm_h5.open_run(plain_run_file)
    assert run.summary["attacks_injected"] == 0
    assert not run.has_table("agent_slots")


def test_chain_tables_agree_with_summary_and_trades(run):
    if not run.has_table("blocks"):
        pytest.skip("this build writes no /blocks")
    b, x, t, s = run.table("blocks"), run.table("transactions"), run.table("trades"), run.summary
    main = b["stale"] == 0
    assert b.nrows - 1 == s["chain_blocks_found"] and (~main).sum() == s["chain_stale_blocks"]
    assert b["height"][main].max() == s["chain_height"]
    np.testing.assert_array_equal(np.sort(b["height"][main]), np.arange(s["chain_height"] + 1))
    assert np.isclose(np.diff(np.sort(b["t_found"][main])).mean(), s["chain_mean_interval_s"])
    assert all(len(h) == 160 for h in b["header"]) and all(len(h) == 64 for h in b["hash"])
    assert run.attrs["chain_tip"] in set(b["hash"][main & (b["height"] == s["chain_height"])])
    included = np.isfinite(t["t_included"])
    assert (t["t_included"][included] >= t["t_agree"][included]).all()
    assert (t["t_confirmed"][included] >= t["t_included"][included]).all()
    assert (t["height"][included] >= 0).all() and (t["height"][~included] == -1).all()
    trade_tx = (x["kind"] == 1) & (x["stale"] == 0) & (x["part"] == 0)
    assert trade_tx.sum() == s["chain_txs_main"] or (x["kind"] != 1).any()
    assert set(x["ref"][trade_tx]) <= set(t["group"])
