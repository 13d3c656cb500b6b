"""`setm-plot`, the analysis package's one command (analysis/pyproject.toml's console script,
installed into .venv by `make venv`): per-run and per-sweep figures, -o always a folder."""

import os
import subprocess
import sys

from matplotlib import image

from conftest import ROOT


def setm_plot(*args):
    exe = os.path.join(os.path.dirname(sys.executable), "setm-plot")
    assert os.access(exe, os.X_OK), f"{exe} missing: the package is not installed (make venv)"
    return subprocess.run([exe, *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_run_figures_into_a_folder(plain_run_file, tmp_path):
    out = tmp_path / "figs"
    p = setm_plot("run", plain_run_file, "-o", str(out), "--only", "prices,energy")
    assert p.returncode == 0, p.stderr
    assert sorted(os.listdir(out)) == ["energy.png", "prices.png"]
    assert image.imread(str(out / "prices.png")).shape[0] > 100


def test_sweep_metric_figure_into_a_folder(sweep_dir, tmp_path):
    out = tmp_path / "figs"
    p = setm_plot("sweep", sweep_dir, "--figure", "metric", "-m", "trades", "-o", str(out))
    assert p.returncode == 0, p.stderr
    assert os.listdir(out) == ["trades_vs_market.rounds_per_slot.png"]
    assert os.listdir(sweep_dir).count("trades_vs_market.rounds_per_slot.png") == 0


def test_sweep_bad_metric_is_exit_2_naming_it(sweep_dir, tmp_path):
    p = setm_plot("sweep", sweep_dir, "--figure", "metric", "-m", "nope", "-o", str(tmp_path))
    assert p.returncode == 2 and "no metric 'nope'" in p.stderr
    assert os.listdir(tmp_path) == []


def test_unknown_command_is_exit_2():
    p = setm_plot("runs", "x.h5")
    assert p.returncode == 2 and "run, sweep or report" in p.stderr
