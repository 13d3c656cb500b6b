"""The standard experiments (scenarios/difficulty_sweep.ini, price_convergence.ini, attacks.ini):
each scenario parses and rejects a bogus key; each analysis script, run on a tiny real sweep of
its scenario (fewer points, a short day, via --set and small temp scenarios), writes its figure
and draws the numbers that are in sweep.h5."""

import os
import subprocess

import h5py
import numpy as np
import pytest

from conftest import ROOT, setm, setm_bin

import attacks  # noqa: E402
import difficulty  # noqa: E402
import plot_sweep  # noqa: E402
import price_convergence  # noqa: E402
import setm_h5  # noqa: E402

SCEN = {name: os.path.join(ROOT, "scenarios", name + ".ini")
        for name in ("difficulty_sweep", "price_convergence", "attacks")}


@pytest.mark.parametrize("name", sorted(SCEN))
def test_scenario_rejects_a_bogus_key(name, tmp_path):
    p = subprocess.run([setm_bin(), "sweep", SCEN[name], "-o", str(tmp_path / "o"), "-q",
                        "--set", "bogus.key=1"], cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 2, p.stderr
    assert "bogus" in p.stderr


@pytest.mark.parametrize("name", sorted(SCEN))
def test_scenario_sweep_parses_and_runs(name, tmp_path):
    """The scenario's own [sweep] (one seed instead of several), every point for a few simulated
    minutes: every key and value is accepted and every run finishes."""
    text = open(SCEN[name]).read()
    lines = [("seeds = 1" if ln.startswith("seeds") else ln) for ln in text.splitlines()]
    ini = tmp_path / (name + ".ini")
    ini.write_text("\n".join(lines) + "\n")
    setm("sweep", str(ini), "-o", str(tmp_path / "o"), "-j", "2", "-q", "--set", "sim.days=0.002")
    sw = setm_h5.open_sweep(str(tmp_path / "o"))
    keys = [ln.split("=")[0].strip() for ln in text[text.index("[sweep]"):].splitlines()[1:]
            if "=" in ln and not ln.startswith(("seeds", ";"))]
    assert sw.params == keys
    assert len(sw.ok()) == len(sw) == int(np.prod([len(np.unique(sw.runs[k])) for k in keys]))


def tiny(tmp_path, name, sweep, sets=()):
    """The scenario with its [sweep] replaced by `sweep` (resolved from scenarios/), a short
    day: a tiny real sweep of the experiment.  Returns DIR/sweep.h5."""
    text = open(SCEN[name]).read()
    text = text[:text.index("[sweep]")] + "[sweep]\n" + sweep
    ini = tmp_path / (name + ".ini")
    ini.write_text(text)
    args = ["sweep", str(ini), "-o", str(tmp_path / "out"), "-j", "2", "-q"]
    for s in ("sim.days=0.3",) + tuple(sets):
        args += ["--set", s]
    setm(*args)
    return str(tmp_path / "out" / "sweep.h5")


def raw(path):
    with h5py.File(path, "r") as f:
        cols = {k: f["runs"][k][()] for k in f["runs"] if not setm_h5.is_dimension(f["runs"][k])}
        cols.update({k: f["summary"][k][()] for k in f["summary"]
                     if not setm_h5.is_dimension(f["summary"][k])})
    return {k: np.char.decode(v) if v.dtype.kind == "S" else v for k, v in cols.items()}


def test_difficulty_figure_matches_sweep(tmp_path):
    sweep = tiny(tmp_path, "difficulty_sweep",
                 "chain.difficulty_bits = 8, 10\nchain.hash_rate = 0, 256\nseeds = 2\n")
    out = tmp_path / "d.png"
    assert difficulty.main([sweep, "-o", str(out)]) == 0
    assert out.stat().st_size > 10000
    drawn = difficulty.draw_figure(plot_sweep.load_sweep(sweep), str(tmp_path / "d2.png"))
    c = raw(sweep)
    for metric, _, _ in difficulty.METRICS:
        rows = drawn[metric]
        assert len(rows) == 4
        for h, bits, mean, _, n in rows:
            sel = (c["chain.hash_rate"] == h) & (c["chain.difficulty_bits"] == bits)
            assert n == 2
            assert mean == pytest.approx(np.nanmean(c[metric][sel]))
    # a fixed rate of 256 H/s: 2^10 bits take four times as long as 2^8
    iv = {(h, b): m for h, b, m, _, _ in drawn["chain_mean_interval_s"]}
    assert iv[(256.0, 10)] > 2 * iv[(256.0, 8)]


def test_price_convergence_figure_matches_runs(tmp_path):
    sweep = tiny(tmp_path, "price_convergence",
                 "market.mechanism = negotiation, cda\nmarket.strategy = linear\n"
                 "population.count = 8, 16\n", ["sim.days=0.45"])
    out = tmp_path / "p.png"
    assert price_convergence.main([sweep, "-o", str(out)]) == 0
    assert out.stat().st_size > 10000
    data = price_convergence.load(sweep)
    drawn = price_convergence.draw_figure(data, str(tmp_path / "p2.png"))
    c = raw(sweep)
    sw = setm_h5.open_sweep(sweep)
    for i in range(len(sw)):
        with h5py.File(os.path.join(os.path.dirname(sweep), c["file"][i]), "r") as f:
            r = f["slots/rounds_to_converge"][()]
        expect = r[r >= 0].mean() if (r >= 0).any() else np.nan
        got = data["cols"][price_convergence.ROUNDS][i]
        assert (np.isnan(expect) and np.isnan(got)) or got == pytest.approx(expect)
        key = (price_convergence.ROUNDS, c["market.mechanism"][i])
        row = [x for x in drawn[key] if x[1] == c["population.count"][i]]
        if not np.isnan(expect):
            assert row[0][2] == pytest.approx(expect)  # one seed: the point is the run
    for metric in ("price_dispersion", "efficiency"):
        for (m, mech), rows in drawn.items():
            if m != metric:
                continue
            for _, x, mean, _, _ in rows:
                sel = (c["market.mechanism"] == mech) & (c["population.count"] == x)
                assert mean == pytest.approx(np.nanmean(c[metric][sel]))


def test_attacks_figure_matches_sweep(tmp_path):
    sweep = tiny(tmp_path, "attacks",
                 "attacks.tamper_rate = 0, 0.1\nattacks.double_spend_rate = 0, 0.2\n"
                 "attacks.tampered_block_rate = 0, 0.2\n", ["population.count=12"])
    out = tmp_path / "a.png"
    assert attacks.main([sweep, "-o", str(out)]) == 0
    assert out.stat().st_size > 10000
    drawn = attacks.draw_figure(plot_sweep.load_sweep(sweep), str(tmp_path / "a2.png"))
    c = raw(sweep)
    keys = list(attacks.KINDS)
    zero = np.all([c[k] == 0 for k in keys], axis=0)
    lat0 = sum(c[m][zero][0] for m in attacks.LATENCY)
    for k, (_, det, inj) in attacks.KINDS.items():
        alone = np.all([c[o] == 0 for o in keys if o != k], axis=0) & (c[k] > 0)
        i = np.flatnonzero(alone)[0]
        (x, mean, _, n), = drawn[("detection_rate", k)]
        assert (x, n) == (c[k][i], 1)
        assert mean == pytest.approx(c[det][i] / c[inj][i])
        rows = {r[0]: r for r in drawn[("trades_rejected_by_chain", k)]}
        assert rows[c[k][i]][1] == pytest.approx(c["trades_rejected_by_chain"][i])
        rows = {r[0]: r for r in drawn[("latency_rel", k)]}
        assert rows[0.0][1] == pytest.approx(1.0)
        assert rows[c[k][i]][1] == pytest.approx(sum(c[m][i] for m in attacks.LATENCY) / lat0)
    # tampering is caught: every injected message attack detected
    assert drawn[("detection_rate", "attacks.tamper_rate")][0][1] == pytest.approx(1.0)


def test_scripts_refuse_a_foreign_sweep(sweep_dir, capsys):
    sweep = os.path.join(sweep_dir, "sweep.h5")
    assert difficulty.main([sweep, "-o", os.devnull]) == 2
    assert price_convergence.main([sweep, "-o", os.devnull]) == 2
    assert attacks.main([sweep, "-o", os.devnull]) == 2
    assert "is this a sweep of" in capsys.readouterr().err
