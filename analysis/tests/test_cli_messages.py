"""What a newcomer sees on a terminal: `setm run --help` lists the most used --set keys with
their compiled defaults; a run and a sweep show progress with a rate and an ETA when stderr is
a terminal (and nothing of it when it is not)."""

import configparser
import os
import pty
import re
import select
import subprocess
import time

from conftest import CASE_STUDY, ROOT, SWEEP_INI, setm_bin


def defaults_ini():
    """configs/defaults.ini (the checked-in key reference, regenerated from the schema by
    `make config-docs` and kept in step by the C test suite) as {section.key: default}."""
    cp = configparser.ConfigParser(interpolation=None, strict=False,
                                   inline_comment_prefixes=(";", "#"))
    cp.optionxform = str
    cp.read(os.path.join(ROOT, "configs", "defaults.ini"))
    return {f"{s}.{k}": v for s in cp.sections() for k, v in cp[s].items()}


def test_run_help_lists_common_keys_with_their_defaults():
    p = subprocess.run([setm_bin(), "run", "--help"], capture_output=True, text=True)
    assert p.returncode == 0
    head, _, keys = p.stdout.partition("most used --set keys")
    assert keys, p.stdout
    listed = re.findall(r"^  ([a-z_]+\.[a-z_]+)\s+(\S+)\s", keys, re.M)
    assert len(listed) >= 10
    ref = defaults_ini()
    for key, default in listed:
        assert key in ref, f"{key} is not a key of configs/defaults.ini"
        want = ref[key] if ref[key] != "" else '""'
        assert default == want, f"{key}: help says {default}, defaults.ini {want}"
    for key in ("sim.days", "scenario.seed", "market.mechanism", "chain.difficulty_bits",
                "population.count", "mine.backend"):
        assert key in dict(listed)


def on_terminal(args, timeout=600):
    """Run setm with stderr (and stdout) on a pseudo-terminal; return (exit code, output)."""
    master, slave = pty.openpty()
    p = subprocess.Popen([setm_bin(), *args], cwd=ROOT, stdin=subprocess.DEVNULL,
                         stdout=slave, stderr=slave)
    os.close(slave)
    out = b""
    end = time.time() + timeout
    while time.time() < end:
        r, _, _ = select.select([master], [], [], 0.5)
        if r:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        elif p.poll() is not None:
            break
    os.close(master)
    return p.wait(timeout=60), out.decode("utf-8", "replace")


DRAW = re.compile(r"\]\s+(\d+\.\d)%  ([0-9.e+-]+) sim-days/s  ETA (\d+):(\d\d):(\d\d)")


def test_run_progress_has_rate_and_eta_on_a_terminal(tmp_path):
    rc, out = on_terminal(["run", CASE_STUDY, "-o", str(tmp_path / "r.h5"), "--set",
                           "sim.days=2", "--set", "chain.difficulty_bits=8"])
    assert rc == 0, out
    draws = DRAW.findall(out)
    assert len(draws) >= 10, out[-2000:]
    pcts = [float(d[0]) for d in draws]
    assert pcts == sorted(pcts) and pcts[-1] == 100.0
    assert all(float(d[1]) > 0 for d in draws[1:])
    last = draws[-1]
    assert (last[2], last[3], last[4]) == ("0", "00", "00")  # nothing left at 100 %


def test_run_progress_absent_when_not_a_terminal(tmp_path):
    p = subprocess.run([setm_bin(), "run", CASE_STUDY, "-o", str(tmp_path / "r.h5"), "--set",
                        "sim.days=0.25", "--set", "chain.difficulty_bits=8"],
                       capture_output=True, text=True)
    assert p.returncode == 0
    assert "ETA" not in p.stderr and "sim-days/s" not in p.stderr


def test_sweep_progress_has_rate_and_eta_on_a_terminal(tmp_path):
    ini = tmp_path / "sw.ini"
    ini.write_text(SWEEP_INI)
    rc, out = on_terminal(["sweep", str(ini), "-o", str(tmp_path / "out"), "-j", "1"])
    assert rc == 0, out
    assert re.search(r"\d+/4 runs .*[0-9.e+-]+ runs/min  ETA \d+:\d\d:\d\d", out), out[-2000:]
