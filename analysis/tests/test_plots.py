"""Every plotting script as a user runs it (a subprocess on a small real run): exit 0, the PNG
written and not blank; bad input reported in one line naming the file."""

import os
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest
from matplotlib import image

from conftest import ANALYSIS, ROOT

SCRIPTS = {"prices": "prices.png", "latency": "latency.png", "blocks": "blocks.png",
           "energy": "energy.png", "attacks": "attacks.png"}


def assert_png(path, min_bytes=8000):
    assert os.path.isfile(path), f"{path} not written"
    assert os.path.getsize(path) > min_bytes, f"{path} is only {os.path.getsize(path)} bytes"
    img = image.imread(path)
    assert img.shape[0] > 200 and img.shape[1] > 400
    rgb = img[..., :3]
    assert rgb.std() > 0.02, f"{path} looks blank"
    # more than background and text: a real figure uses several colours
    q = (rgb[::3, ::3] * 15).astype(int)
    assert len(np.unique(q[..., 0] * 256 + q[..., 1] * 16 + q[..., 2])) > 8


def _synthetic_blocks(run_file, path):
    """A copy of the run with a /blocks table in the chain's column names (t_found, height,
    stale, difficulty), for when the simulator does not write one yet."""
    shutil.copy(run_file, path)
    rng = np.random.default_rng(7)
    n = 120
    with h5py.File(path, "a") as f:
        g = f.create_group("blocks")
        g["height"] = np.arange(n, dtype=np.int64)
        g["t_found"] = np.cumsum(rng.exponential(600.0, n))
        g["stale"] = (rng.random(n) < 0.05).astype(np.uint8)
        g["difficulty"] = 16.0 + np.arange(n) // 40
        for ds in g.values():
            ds.attrs["units"] = ""
    return path


@pytest.fixture(scope="module")
def jobs(run_file, plain_run_file, tmp_path_factory):
    """Every script invocation of this module, started at once (each is mostly Python and
    matplotlib start-up) and waited for: {key: (CompletedProcess-like, outdir)}."""
    d = tmp_path_factory.mktemp("plots")
    with h5py.File(run_file, "r") as f:
        has_blocks = "blocks" in f
    blocks_file = run_file if has_blocks else _synthetic_blocks(run_file, str(d / "blocks.h5"))
    bad = d / "bad.h5"
    bad.write_text("hello\n")
    spec = {name: ([f"plot_{name}.py", run_file], d / name) for name in SCRIPTS}
    # a run file without the chain's tables (setm always writes them now): a copy without them
    no_chain = str(d / "no_chain.h5")
    shutil.copy(plain_run_file, no_chain)
    with h5py.File(no_chain, "a") as f:
        for t in ("blocks", "transactions"):
            if t in f:
                del f[t]
    spec["blocks_none"] = (["plot_blocks.py", no_chain], d / "blocks_none")
    spec["blocks_table"] = (["plot_blocks.py", blocks_file], d / "blocks_table")
    spec["attacks_none"] = (["plot_attacks.py", plain_run_file], d / "attacks_none")
    spec["all"] = (["plot_all.py", run_file, "--only", "prices,energy", "--suffix", "x"],
                   d / "all")
    spec["bad"] = (["plot_prices.py", str(bad)], d / "bad")
    procs = {}
    for key, (argv, out) in spec.items():
        procs[key] = subprocess.Popen([sys.executable, os.path.join(ANALYSIS, argv[0]), *argv[1:],
                                       "-o", str(out)], cwd=ROOT, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True)
    res = {}
    for key, p in procs.items():
        out, err = p.communicate(timeout=120)
        res[key] = (subprocess.CompletedProcess(p.args, p.returncode, out, err), spec[key][1])
    res["has_blocks"] = has_blocks
    return res


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_script_writes_png(name, jobs):
    p, out = jobs[name]
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == str(out / SCRIPTS[name])
    assert_png(str(out / SCRIPTS[name]))


def test_blocks_without_chain_says_so(jobs):
    p, out = jobs["blocks_none"]
    assert p.returncode == 0
    assert "no /blocks table" in p.stderr
    assert_png(str(out / "blocks.png"), min_bytes=3000)


def test_blocks_draws_a_blocks_table(jobs):
    """The drawing path on a /blocks table: the run's own when it has one, else synthetic."""
    p, out = jobs["blocks_table"]
    assert p.returncode == 0, p.stderr
    assert "no /blocks" not in p.stderr
    assert_png(str(out / "blocks.png"), min_bytes=15000)


def test_attacks_without_attacks(jobs):
    p, out = jobs["attacks_none"]
    assert p.returncode == 0, p.stderr
    assert_png(str(out / "attacks.png"), min_bytes=3000)


def test_plot_all(jobs):
    p, out = jobs["all"]
    assert p.returncode == 0, p.stderr
    assert sorted(os.listdir(out)) == ["energy_x.png", "prices_x.png"]


def test_bad_input_is_one_line(jobs):
    p, out = jobs["bad"]
    assert p.returncode == 1
    assert "bad.h5: not an HDF5 file" in p.stderr and "Traceback" not in p.stderr
    assert not out.exists()
