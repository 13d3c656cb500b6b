#!/usr/bin/env python3
"""price_convergence -- the price-convergence experiment's figure: rounds to convergence, price
dispersion and market efficiency against the number of agents, one panel column per clearing
mechanism and one line per bidding strategy (scenarios/price_convergence.ini).

    setm sweep scenarios/price_convergence.ini -o out/price_convergence -j 2
    python3 analysis/price_convergence.py out/price_convergence/sweep.h5 \\
        -o out/price_convergence/price_convergence.png

Rounds to convergence is not a /summary scalar: per run it is the mean of
/slots/rounds_to_converge over the slots with trades (-1 marks a slot without), read from each
run file through sweep.h5's external links (setm_h5.open_sweep).  price_dispersion (the mean over
slots of the volume-weighted standard deviation of trade prices) and efficiency (realised /
maximum surplus) are /summary columns.  Points are means over the seeds with 95 % Student t
intervals (plot_sweep.draw).
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import setm_h5  # noqa: E402
from plot_sweep import SweepError, draw, load_sweep  # noqa: E402

__all__ = ["MECH", "STRAT", "COUNT", "ROUNDS", "METRICS", "rounds_to_converge", "load",
           "draw_figure", "main"]

MECH = "market.mechanism"
STRAT = "market.strategy"
COUNT = "population.count"
ROUNDS = "rounds_to_converge_mean"
METRICS = [(ROUNDS, "rounds to convergence"), ("price_dispersion", "price dispersion"),
           ("efficiency", "efficiency")]
ORDER = ["negotiation", "pay_as_bid", "pay_as_clear", "cda", "fixed", "linear", "zic", "zip"]


def rounds_to_converge(path):
    """Per run of the sweep (row order of /runs): the mean of /slots/rounds_to_converge over the
    slots with trades; NaN for a run that failed or had no slot with trades."""
    sw = setm_h5.open_sweep(path)
    out = np.full(len(sw), np.nan)
    for i in sw.ok():
        r = np.asarray(sw.run(i).column("slots", "rounds_to_converge"), dtype=float)
        r = r[r >= 0]
        if len(r):
            out[i] = r.mean()
    return out


def load(path):
    """load_sweep(path) with the per-run column rounds_to_converge_mean added."""
    data = load_sweep(path)
    for need in (MECH, STRAT, COUNT, "status", "price_dispersion", "efficiency"):
        if need not in data["cols"]:
            raise SweepError(f"the sweep has no '{need}' column (is this a sweep of "
                             "scenarios/price_convergence.ini?)")
    try:
        data["cols"][ROUNDS] = rounds_to_converge(path)
    except setm_h5.SetmH5Error as e:
        raise SweepError(str(e)) from None
    data["units"][ROUNDS] = "rounds"
    return data


def _sorted(values):
    return sorted(values, key=lambda v: (ORDER.index(v) if v in ORDER else len(ORDER), v))


def draw_figure(data, out):
    """Metrics (rows) x mechanisms (columns), agents on x, one line per strategy, into `out`.
    Returns {(metric, mechanism): rows} with rows (strategy, agents, mean, half, n) as drawn."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    c = data["cols"]
    ok = c["status"] == "ok"
    mechs = _sorted(np.unique(c[MECH][ok]))
    strats = _sorted(np.unique(c[STRAT][ok]))
    fig, axes = plt.subplots(len(METRICS), len(mechs), figsize=(3.4 * len(mechs) + 1, 8.5),
                             squeeze=False, sharey="row")
    drawn = {}
    for j, m in enumerate(mechs):
        for i, (metric, title) in enumerate(METRICS):
            ax = axes[i, j]
            rows = []
            for s in strats:
                for _, x, mean, half, n in draw(ax, data, COUNT, metric,
                                                select=(c[MECH] == m) & (c[STRAT] == s),
                                                label=s):
                    rows.append((s, int(x), float(mean), float(half), int(n)))
            drawn[(metric, m)] = rows
            ax.set_xscale("log")
            if j:
                ax.set_ylabel("")
            else:
                ax.set_ylabel(title + (f" [{data['units'].get(metric)}]"
                                       if data["units"].get(metric) else ""))
            if i == 0:
                ax.set_title(m)
            if i == len(METRICS) - 1:
                ax.set_xlabel("agents")
    axes[0, 0].legend(title="strategy", fontsize=8)
    fig.suptitle("price convergence by mechanism, strategy and market size "
                 "(mean, 95 % CI across seeds)")
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return drawn


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sweep", help="DIR/sweep.h5 of scenarios/price_convergence.ini")
    ap.add_argument("-o", "--output", help="image (default: price_convergence.png beside the "
                                           "sweep)")
    a = ap.parse_args(argv)
    out = a.output or os.path.join(os.path.dirname(a.sweep) or ".", "price_convergence.png")
    try:
        data = load(a.sweep)
        if not (data["cols"]["status"] == "ok").any():
            print("price_convergence: no finished runs in the sweep", file=sys.stderr)
            return 1
        drawn = draw_figure(data, out)
    except SweepError as e:
        print(f"price_convergence: {e}", file=sys.stderr)
        return 2
    table = {}
    for (metric, m), rows in drawn.items():
        for s, x, mean, _, n in rows:
            table.setdefault((m, s, x), {"n": n})[metric] = mean
    print(f"{'mechanism':>13} {'strategy':>8} {'agents':>6} {'n':>3} {'rounds':>7} "
          f"{'dispersion':>10} {'efficiency':>10}")
    rank = {v: k for k, v in enumerate(ORDER)}
    for (m, s, x), v in sorted(table.items(), key=lambda kv: (rank.get(kv[0][0], 99), kv[0][0],
                                                                rank.get(kv[0][1], 99), kv[0][1],
                                                                kv[0][2])):
        print(f"{m:>13} {s:>8} {x:6d} {v['n']:3d} {v.get(ROUNDS, np.nan):7.2f} "
              f"{v.get('price_dispersion', np.nan):10.3f} {v.get('efficiency', np.nan):10.3f}")
    print(f"price_convergence: wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
