"""Tests of analysis/validate.py: its statistics on synthetic data with known answers (so each
check is shown able to fail), and its quick checks on real runs of the simulator."""

import math
import os
import struct
import sys

import numpy as np
import pytest


sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import validate as V  # noqa: E402

from conftest import setm_bin  # noqa: E402


# ---- PoW arithmetic from Bitcoin's published definitions -------------------------------------

def test_validate_compact_target_bitcoin_genesis():
    # Bitcoin's genesis nBits 0x1d00ffff encodes 0x00000000ffff0000...0000 (26 zero bytes)
    assert V.compact_target(0x1D00FFFF) == 0xFFFF * 2 ** 208
    assert V.compact_target(0x1D00FFFF) == int("00000000ffff" + "00" * 26, 16)
    assert V.compact_target(0x03123456) == 0x123456
    assert V.compact_target(0x02123456) == 0x1234       # exponent < 3 shifts right
    assert V.success_probability(0x1D00FFFF) == (0xFFFF * 2 ** 208 + 1) / 2 ** 256
    with pytest.raises(ValueError):
        V.compact_target(0x1D80FFFF)                      # sign bit: a negative target


def test_validate_compact_form_truncates():
    # 12 leading zero bits ideally mean target 2^244 - 1; three mantissa bytes keep 0x0fffff, so
    # the exact success probability is below 2^-12 (the suite reports the ratio)
    t = V.compact_target(0x1F0FFFFF)
    assert t == 0x0FFFFF * 2 ** (8 * 28)
    assert (t + 1) / 2 ** 244 < 1 and (t + 1) / 2 ** 244 > 0.99999


# ---- the tests pass what they should and fail what they should ------------------------------

def test_validate_ks_exponential_accepts_and_rejects():
    rng = np.random.default_rng(1)
    x = rng.exponential(5.0, 5000)
    assert V.ks_exponential(x, 5.0)[1] > 0.01
    assert V.ks_exponential(x, 5.5)[1] < V.ALPHA          # wrong mean (10 %)
    assert V.ks_exponential(rng.uniform(0, 10, 5000), 5.0)[1] < V.ALPHA  # wrong law, same mean
    assert abs(V.mean_z(x, 5.0, 5.0)) < 4
    assert abs(V.mean_z(x, 5.5, 5.5)) > 4


def test_validate_ks_geometric_accepts_and_rejects():
    rng = np.random.default_rng(2)
    p = 1 / 4096
    k = rng.geometric(p, 5000)
    assert V.ks_geometric(k, p)[1] > 0.01
    assert V.ks_geometric(k, p * 1.1)[1] < V.ALPHA
    assert V.ks_geometric(np.full(5000, 4096), p)[1] < V.ALPHA  # right mean, no spread


def test_validate_finder_shares_chi2():
    rng = np.random.default_rng(3)
    s = np.array([0.4, 0.3, 0.2, 0.1])
    assert V.share_chi2(rng.choice(4, 4000, p=s), s)[2] > 0.01
    # the bias the issue reports (0.17 .. 0.07 with 8 equal nodes) is caught
    biased = np.linspace(0.17, 0.07, 8)
    biased /= biased.sum()
    assert V.share_chi2(rng.choice(8, 4000, p=biased), np.ones(8))[2] < V.ALPHA


def test_validate_successive_finders_independence():
    rng = np.random.default_rng(4)
    iid = rng.choice(4, 5000)
    assert V.independence_chi2(V.transition_table(iid, 4))[1] > 0.01
    same, exp, z = V.repeat_rate(iid, np.ones(4))
    assert exp == 0.25 and abs(z) < 4
    # a sticky chain: the previous finder finds the next 31 % of the time instead of 25 %
    seq = [0]
    for _ in range(4999):
        seq.append(seq[-1] if rng.random() < 0.08 else int(rng.integers(4)))
    assert V.independence_chi2(V.transition_table(seq, 4))[1] < V.ALPHA
    assert V.repeat_rate(seq, np.ones(4))[2] > 4
    t = V.transition_table([0, 1, 1, 2, 0], 3)
    assert t.tolist() == [[0, 1, 0], [0, 1, 1], [1, 0, 0]]


def test_validate_decker_wattenhofer_and_reference_race():
    assert V.dw_fork_rate(0.2, 2.0, 4) == pytest.approx(1 - math.exp(-0.075))
    assert V.dw_fork_rate(0.2, 2.0, 1) == 0                   # one node never forks
    st, n = V.race_reference(4, 0.0, 10.0, 3000, seed=1)
    assert st == 0 and n == 3000 - 20                          # no delay: no stale block
    st, n = V.race_reference(4, 0.2, 10.0, 40000, seed=2)      # delay/T = 0.02: first order
    d = V.dw_stale_rate(0.2, 10.0, 4)
    assert abs(st - d) < 4 * math.sqrt(d / n) + d * d
    big, _ = V.race_reference(4, 0.2, 0.4, 20000, seed=3)      # delay/T = 0.5
    assert abs(big - V.dw_stale_rate(0.2, 0.4, 4)) < 0.03
    # unequal shares: the strong node wins its own races, so fewer blocks go stale than with
    # equal shares (Decker & Wattenhofer's integral weights the uninformed share of hash power)
    uneq, _ = V.race_reference(4, 0.2, 0.4, 20000, seed=3, shares=[0.85, 0.05, 0.05, 0.05])
    assert uneq < big - 0.05


def test_validate_max_surplus_of_a_book():
    # unit orders: only the first pair gains (50 - 30); 40 < 45 stops the walk
    assert V.max_surplus([1, 1], [40, 50], [1, 1], [45, 30]) == 20
    # divisible: 2 kWh at 50 meet 1 kWh at 30 and 1 kWh at 45
    assert V.max_surplus([2], [50], [1, 1], [30, 45]) == 25
    assert V.max_surplus([], [], [1], [10]) == 0
    assert V.max_surplus([1], [10], [1], [10]) == 0           # equal prices: no gain


def test_validate_decode_tx_layouts():
    seller, buyer = b"S" * 20, b"B" * 20
    trade = (bytes([1, 1]) + struct.pack("<Qddd", 7, 40.0, 1.0, 2.0) + seller + b"k" * 32 +
             struct.pack("<H", 1) + buyer + b"p" * 32 + struct.pack("<d", 2.5) + b"s" * 128)
    moves, price = V.decode_tx(trade)
    assert price == 40.0 and moves == [(buyer, seller, 100000)]  # 40 EUR/MWh x 2.5 kWh = 0.1 EUR
    transfer = (bytes([1, 2]) + struct.pack("<Qd", 3, 5.0) + b"F" * 20 + b"k" * 32 + b"T" * 20 +
                struct.pack("<q", 1234) + b"s" * 64)
    assert V.decode_tx(transfer)[0] == [(b"F" * 20, b"T" * 20, 1234)]
    assert V.round_half_away(2.5) == 3 and V.round_half_away(-2.5) == -3


def test_validate_report_fails_on_any_fail():
    r = V.Report()
    r.add("x", "a", "1", "1", "exact", True)
    assert "1 PASS, 0 FAIL" in r.text()
    r.add("x", "b", "2", "1", "exact", False)
    assert "FAIL" in r.text() and "**FAIL**" in r.markdown()


# ---- real runs ---------------------------------------------------------------------------

def run_checks(tmp_path, *names):
    out = tmp_path / "v"
    rc = V.main(["--quick", "-o", str(out), "--setm", setm_bin()] +
                [a for n in names for a in ("--only", n)])
    text = (out / "validate.txt").read_text()
    for n in names:
        assert (out / f"{n}.png").stat().st_size > 0
    return rc, text


def test_validate_quick_pow_book_coins_pass(tmp_path):
    rc, text = run_checks(tmp_path, "pow", "book", "coins")
    assert rc == 0, text
    assert ", 0 FAIL" in text


def test_validate_quick_zi_and_determinism_pass(tmp_path):
    rc, text = run_checks(tmp_path, "zi", "determinism")
    assert rc == 0, text


def test_validate_quick_race_passes(tmp_path):
    rc, text = run_checks(tmp_path, "race")
    assert rc == 0, text


def test_validate_bad_usage_exits_2(tmp_path, capsys):
    assert V.main(["--setm", str(tmp_path / "nope"), "-o", str(tmp_path / "o")]) == 2
    assert "not an executable" in capsys.readouterr().err
    f = tmp_path / "file"
    f.write_text("mine")
    assert V.main(["--setm", setm_bin(), "-o", str(f)]) == 2
    assert f.read_text() == "mine"                             # nothing of the user's touched


def test_validate_setm_subcommand_runs_the_suite(tmp_path):
    import subprocess
    r = subprocess.run([setm_bin(), "validate", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "--quick" in r.stdout
    r = subprocess.run([setm_bin(), "validate", "--jobs", "0", "-o", str(tmp_path / "o")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "--jobs 0" in r.stderr
    env = dict(os.environ, PYTHON=str(tmp_path / "no-python"))
    r = subprocess.run([setm_bin(), "validate"], capture_output=True, text=True, env=env)
    assert r.returncode == 2 and "cannot start" in r.stderr


def test_validate_setm_subcommand_uses_the_project_venv(tmp_path):
    """`setm validate` runs the suite in the .venv beside the script (the suite needs scipy,
    which a fresh system python3 lacks), and falls back to python3 only without one."""
    import subprocess
    root = tmp_path / "home"
    (root / "analysis").mkdir(parents=True)
    (root / "analysis" / "validate.py").write_text("# the suite\n")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for path, word in ((bindir / "python3", "system"), (root / ".venv" / "bin" / "python", "venv")):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"#!/bin/sh\necho {word} \"$@\"\n")
        path.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "PYTHON"}
    env.update(SETM_HOME=str(root), PATH=f"{bindir}:/usr/bin:/bin")
    r = subprocess.run([setm_bin(), "validate", "--quick"], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["venv", str(root / "analysis" / "validate.py"), "--quick"]
    (root / ".venv" / "bin" / "python").unlink()
    r = subprocess.run([setm_bin(), "validate", "--quick"], capture_output=True, text=True, env=env)
    assert r.stdout.split()[0] == "system"
