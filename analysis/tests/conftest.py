"""Shared fixtures: small real runs and a small sweep, made once per test session with the
simulator binary (SETM_BIN, set by `make test-py`; else ./bin/setm from the repository root)."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ANALYSIS = os.path.join(ROOT, "analysis")
sys.path.insert(0, ANALYSIS)

CASE_STUDY = os.path.join(ROOT, "scenarios", "case_study.ini")
ATTACKS = ["attacks.tamper_rate=0.05", "attacks.replay_rate=0.05", "attacks.forged_mac_rate=0.03",
           "attacks.unregistered_rate=0.03", "attacks.impersonation_rate=0.03"]

SWEEP_INI = """\
[scenario]
name = pytest_sweep
seed = 3
[sim]
days = 1
[population]
count = 6
home_solar = 1
solar_system = 1
smart_factory = 1
[chain]
difficulty_bits = 8
[sweep]
market.rounds_per_slot = 2, 4
seeds = 2
"""


def setm_bin():
    b = os.environ.get("SETM_BIN") or os.path.join(ROOT, "bin", "setm")
    if not os.access(b, os.X_OK):
        pytest.fail(f"simulator binary {b} not found: run `make` first (or set SETM_BIN)")
    return b


def setm(*args):
    """Run bin/setm; fail the test with its output when it exits non-zero."""
    p = subprocess.run([setm_bin(), *args], cwd=ROOT, capture_output=True, text=True)
    if p.returncode != 0:
        pytest.fail(f"setm {' '.join(args)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
    return p


# 2^8 expected hashes per block instead of the default's 2^12..14: the same chain mechanics, a
# tenth of the run time (the tests run on machines without a GPU).
FAST = ["chain.difficulty_bits=8"]


def run_case_study(path, *sets):
    args = ["run", CASE_STUDY, "-o", str(path), "--quiet"]
    for s in FAST + list(sets):
        args += ["--set", s]
    setm(*args)
    return str(path)


@pytest.fixture(scope="session")
def run_file(tmp_path_factory):
    """The case study (1 day, 7 agents) with /agent_slots and every market attack switched on."""
    return run_case_study(tmp_path_factory.mktemp("run") / "run.h5",
                          "output.agent_slots=true", *ATTACKS)


@pytest.fixture(scope="session")
def plain_run_file(tmp_path_factory):
    """The case study as `make run` runs it (no attacks, no /agent_slots), easier blocks."""
    return run_case_study(tmp_path_factory.mktemp("plain") / "plain.h5")


@pytest.fixture(scope="session")
def sweep_dir(tmp_path_factory):
    """A 2-point x 2-seed sweep of a 6-agent population."""
    d = tmp_path_factory.mktemp("sweep")
    ini = d / "sweep.ini"
    ini.write_text(SWEEP_INI)
    setm("sweep", str(ini), "-o", str(d / "out"), "-j", "2", "--quiet")
    return str(d / "out")
