#!/usr/bin/env python3
"""difficulty -- the difficulty experiment's figure: block interval, confirmation latency, stale
rate and real mining wall time against difficulty bits, one line per network hash rate
(scenarios/difficulty_sweep.ini).

    setm sweep scenarios/difficulty_sweep.ini -o out/difficulty -j 2
    python3 analysis/difficulty.py out/difficulty/sweep.h5 -o out/difficulty/difficulty.png

Metrics are /summary columns of the sweep: chain_mean_interval_s (main-chain blocks),
latency_include_confirm_mean (a trade's inclusion to its chain.confirmations-th block),
chain_stale_rate (stale blocks / blocks found) and chain_search_wall_s (host seconds spent in the
nonce search).  hash_rate 0 is the auto rate 2^bits / block_interval_s; the dashed lines in the
interval panel are the expected interval 2^bits / hash_rate.  Points are means over the seeds with
95 % Student t intervals (plot_sweep.draw).
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plot_sweep import SweepError, draw, load_sweep  # noqa: E402

__all__ = ["BITS", "RATE", "METRICS", "rate_label", "draw_figure", "main"]

BITS = "chain.difficulty_bits"
RATE = "chain.hash_rate"
# (summary column, panel title, log y)
METRICS = [
    ("chain_mean_interval_s", "mean block interval", True),
    ("latency_include_confirm_mean", "inclusion -> confirmation", True),
    ("chain_stale_rate", "stale blocks / blocks found", False),
    ("chain_search_wall_s", "real nonce-search time per run", True),
]


def rate_label(h, interval_s=60.0):
    return f"auto (2^bits / {interval_s:g} s)" if h == 0 else f"{h:g} H/s"


def _check(data):
    for need in (BITS, RATE, "status") + tuple(m for m, _, _ in METRICS):
        if need not in data["cols"]:
            raise SweepError(f"the sweep has no '{need}' column (is this a sweep of "
                             "scenarios/difficulty_sweep.ini?)")


def draw_figure(data, out, interval_s=60.0):
    """Draw the four panels into `out`; returns {metric: rows} with rows (hash rate, bits, mean,
    half, n) as drawn."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _check(data)
    c = data["cols"]
    rates = np.unique(c[RATE][c["status"] == "ok"])
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    drawn = {}
    for ax, (metric, title, logy) in zip(axes.ravel(), METRICS):
        rows = []
        for h in rates:
            for _, x, m, hw, n in draw(ax, data, BITS, metric, select=c[RATE] == h,
                                       label=rate_label(h, interval_s)):
                rows.append((float(h), int(x), float(m), float(hw), int(n)))
        drawn[metric] = rows
        if metric == "chain_mean_interval_s":
            bits = np.unique(c[BITS])
            ax.set_prop_cycle(None)
            for h in rates:
                expect = np.full(len(bits), interval_s) if h == 0 else 2.0 ** bits / h
                ax.plot(bits, expect, "--", alpha=0.5)
        ax.set_title(title)
        ax.set_xlabel("difficulty [bits]")
        if logy:
            ax.set_yscale("log")
    axes[0, 0].legend(title="network hash rate", fontsize=8)
    fig.suptitle("difficulty x hash rate (mean, 95 % CI across seeds; dashed: 2^bits / rate)")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return drawn


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sweep", help="DIR/sweep.h5 of scenarios/difficulty_sweep.ini")
    ap.add_argument("-o", "--output", help="image (default: difficulty.png beside the sweep)")
    ap.add_argument("--block-interval", type=float, default=60.0,
                    help="the scenario's chain.block_interval_s (60)")
    a = ap.parse_args(argv)
    out = a.output or os.path.join(os.path.dirname(a.sweep) or ".", "difficulty.png")
    try:
        data = load_sweep(a.sweep)
        _check(data)
        if not (data["cols"]["status"] == "ok").any():
            print("difficulty: no finished runs in the sweep", file=sys.stderr)
            return 1
        drawn = draw_figure(data, out, a.block_interval)
    except SweepError as e:
        print(f"difficulty: {e}", file=sys.stderr)
        return 2
    names = [m for m, _, _ in METRICS]
    table = {m: {(r[0], r[1]): r for r in drawn[m]} for m in names}
    print(f"{'hash rate':>10} {'bits':>4} {'n':>3} " + " ".join(f"{m[:22]:>22}" for m in names))
    for h, x, _, _, n in drawn[names[0]]:
        vals = [table[m].get((h, x), (0, 0, float("nan")))[2] for m in names]
        print(f"{h:10g} {x:4d} {n:3d} " + " ".join(f"{v:22.4g}" for v in vals))
    print(f"difficulty: wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
