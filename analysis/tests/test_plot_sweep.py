"""Tests of analysis/plot_sweep.py and analysis/scale.py: on a synthetic sweep.h5 laid out as
`setm sweep` writes it, and end to end on a real sweep when SETM_BIN names a setm binary."""

import math
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import plot_sweep  # noqa: E402
import scale  # noqa: E402


def write_sweep(path, counts, seeds, status=None, with_summary=True):
    """A sweep.h5 with one swept key (population.count) and `seeds` runs per value: agents =
    count, trades = 10 * count + rep, wall 0.001 * count s over half a day, rss 1 MiB * count."""
    rows = [(c, r) for c in counts for r in range(seeds)]
    n = len(rows)
    status = status or ["ok"] * n
    with h5py.File(path, "w") as f:
        f.attrs["keys"] = "population.count"
        runs = f.create_group("runs")
        runs["run"] = np.arange(n, dtype=np.int64)
        runs["rep"] = np.array([r for _, r in rows], dtype=np.int64)
        runs["population.count"] = np.array([c for c, _ in rows], dtype=np.int64)
        runs["status"] = np.array(status, dtype="S8")
        runs["wall_time_s"] = np.array([0.001 * c * (1 + 0.1 * r) for c, r in rows])
        runs["wall_time_s"].attrs["units"] = "s"
        runs["peak_rss_kib"] = np.array([1024 * c for c, _ in rows], dtype=np.int64)
        if with_summary:
            s = f.create_group("summary")
            s["agents"] = np.array([float(c) for c, _ in rows])
            s["trades"] = np.array([10.0 * c + r for c, r in rows])
            s["sim_seconds"] = np.full(n, 43200.0)
            s["sim_seconds"].attrs["units"] = "s"


def test_aggregate_mean_and_interval():
    xs, mean, half, n = plot_sweep.aggregate([1, 1, 1, 2], [1.0, 2.0, 3.0, 5.0])
    assert list(xs) == [1, 2]
    assert mean[0] == pytest.approx(2.0)
    assert n.tolist() == [3, 1]
    assert half[0] == pytest.approx(4.303 * 1.0 / math.sqrt(3), rel=1e-3)
    assert math.isnan(half[1])


def test_aggregate_drops_nan():
    xs, mean, _, n = plot_sweep.aggregate([1, 1], [4.0, float("nan")])
    assert n.tolist() == [1]
    assert mean[0] == 4.0


def test_t_quantile_95_table_and_large_df():
    assert plot_sweep.t_quantile(0.95, 1) == pytest.approx(12.706, rel=1e-3)
    assert plot_sweep.t_quantile(0.95, 1000) == pytest.approx(1.96, rel=1e-2)
    assert math.isnan(plot_sweep.t_quantile(0.95, 0))


def test_t_quantile_other_level():
    assert plot_sweep.t_quantile(0.99, 10) == pytest.approx(3.169, rel=1e-2)


def test_load_sweep_reads_runs_and_summary(tmp_path):
    p = tmp_path / "sweep.h5"
    write_sweep(p, [10, 20], 2)
    d = plot_sweep.load_sweep(str(p))
    assert d["keys"] == ["population.count"]
    assert d["cols"]["status"].tolist() == ["ok"] * 4
    assert d["cols"]["trades"].tolist() == [100, 101, 200, 201]
    assert d["units"]["wall_time_s"] == "s"


def test_load_sweep_missing_file(tmp_path):
    with pytest.raises(plot_sweep.SweepError, match="no such file"):
        plot_sweep.load_sweep(str(tmp_path / "none.h5"))


def test_load_sweep_not_a_sweep(tmp_path):
    p = tmp_path / "run.h5"
    with h5py.File(p, "w") as f:
        f["x"] = 1
    with pytest.raises(plot_sweep.SweepError, match="no /runs"):
        plot_sweep.load_sweep(str(p))


def test_plot_writes_image_and_skips_failed_runs(tmp_path):
    p = tmp_path / "sweep.h5"
    write_sweep(p, [10, 20], 2, status=["ok", "ok", "ok", "failed"])
    out = tmp_path / "fig.png"
    _, rows = plot_sweep.plot(plot_sweep.load_sweep(str(p)), "population.count", "trades",
                              out=str(out))
    assert out.stat().st_size > 0
    assert [(r[1], r[4]) for r in rows] == [(10, 2), (20, 1)]
    assert rows[0][2] == pytest.approx(100.5)


def test_plot_unknown_metric_lists_columns(tmp_path):
    p = tmp_path / "sweep.h5"
    write_sweep(p, [10], 2)
    with pytest.raises(plot_sweep.SweepError, match="no metric 'nope'.*trades"):
        plot_sweep.plot(plot_sweep.load_sweep(str(p)), "population.count", "nope")


def test_main_defaults_param_to_first_key(tmp_path, capsys):
    p = tmp_path / "sweep.h5"
    write_sweep(p, [10, 20], 3)
    assert plot_sweep.main([str(p), "-m", "trades"]) == 0
    assert (tmp_path / "trades_vs_population.count.png").exists()
    assert "population.count" in capsys.readouterr().out


def test_main_bad_input_exits_2(tmp_path):
    assert plot_sweep.main([str(tmp_path / "none.h5"), "-m", "trades"]) == 2


def test_scale_table_per_day_and_memory(tmp_path):
    p = tmp_path / "sweep.h5"
    write_sweep(p, [100, 1000], 2)
    rows = scale.scale_table(plot_sweep.load_sweep(str(p)))
    assert [r[0] for r in rows] == [100, 1000]
    # wall 0.1 s and 0.11 s over half a day -> 0.21 s per day on average
    assert rows[0][2] == pytest.approx(0.21)
    assert rows[0][4] == pytest.approx(100.0)
    assert scale.growth_exponent(rows) == pytest.approx(1.0)


def test_scale_needs_summary(tmp_path):
    p = tmp_path / "sweep.h5"
    write_sweep(p, [100], 1, with_summary=False)
    with pytest.raises(plot_sweep.SweepError, match="agents"):
        scale.scale_table(plot_sweep.load_sweep(str(p)))


def test_scale_main_writes_figure(tmp_path, capsys):
    p = tmp_path / "sweep.h5"
    write_sweep(p, [100, 300, 1000], 2)
    assert scale.main([str(p), "-o", str(tmp_path / "s.png")]) == 0
    assert (tmp_path / "s.png").stat().st_size > 0
    assert "growth exponent" in capsys.readouterr().out


SMALL = """[scenario]
name = py
seed = 2
[sim]
days = 0.25
[population]
count = 4
home_solar = 2
smart_device = 1
solar_system = 0.3
[sweep]
population.count = 3, 6
seeds = 2
"""


@pytest.mark.skipif(not os.environ.get("SETM_BIN"), reason="SETM_BIN not set")
def test_end_to_end_on_a_real_sweep(tmp_path):
    ini = tmp_path / "s.ini"
    ini.write_text(SMALL)
    subprocess.run([os.environ["SETM_BIN"], "sweep", str(ini), "-o", str(tmp_path / "out"),
                    "-q"], check=True)
    sweep = str(tmp_path / "out" / "sweep.h5")
    assert plot_sweep.main([sweep, "-m", "generation_kwh", "-o", str(tmp_path / "g.png")]) == 0
    assert scale.main([sweep, "-o", str(tmp_path / "s.png")]) == 0
    d = plot_sweep.load_sweep(sweep)
    assert d["cols"]["agents"].tolist() == [3, 3, 6, 6]
