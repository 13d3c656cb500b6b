#!/usr/bin/env python3
"""scale -- the scale experiment's figure: wall time and peak memory per simulated day against
the number of agents (scenarios/scale.ini).

    setm sweep scenarios/scale.ini -o out/scale -j 2
    python3 analysis/scale.py out/scale/sweep.h5 -o out/scale/scale.png

Per run: wall time per simulated day = /runs/wall_time_s / (/summary/sim_seconds / 86400);
memory = /runs/peak_rss_kib (the worker's peak resident set, whole process) in MiB.  Points are
means over the seeds with 95 % Student t intervals; the printed exponent is the least-squares slope
of log(wall per day) on log(agents) (1 = linear growth).
"""

import argparse
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plot_sweep import SweepError, aggregate, load_sweep  # noqa: E402

__all__ = ["scale_points", "scale_table", "growth_exponent", "main"]


def scale_points(data):
    """Per ok run: (agents, wall seconds per simulated day, peak MiB) arrays."""
    c = data["cols"]
    for need in ("agents", "sim_seconds", "wall_time_s", "peak_rss_kib", "status"):
        if need not in c:
            raise SweepError(f"the sweep has no '{need}' column (is this a setm sweep.h5?)")
    ok = (c["status"] == "ok") & (c["sim_seconds"] > 0) & (c["peak_rss_kib"] >= 0)
    agents = c["agents"][ok]
    per_day = c["wall_time_s"][ok] / (c["sim_seconds"][ok] / 86400.0)
    mib = c["peak_rss_kib"][ok] / 1024.0
    return agents, per_day, mib


def scale_table(data):
    """Rows (agents, n, wall s/day mean, +-, peak MiB mean, +-) over the ok runs, by agent count."""
    agents, per_day, mib = scale_points(data)
    xs, wm, wh, n = aggregate(agents, per_day)
    _, mm, mh, _ = aggregate(agents, mib)
    return [(int(x), int(k), w, a, m, b) for x, k, w, a, m, b in zip(xs, n, wm, wh, mm, mh)]


def growth_exponent(rows):
    """Slope of log(wall per day) against log(agents); NaN with fewer than two sizes."""
    if len(rows) < 2:
        return math.nan
    x = np.log([r[0] for r in rows])
    y = np.log([r[2] for r in rows])
    return float(np.polyfit(x, y, 1)[0])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sweep", help="DIR/sweep.h5 of scenarios/scale.ini")
    ap.add_argument("-o", "--output", help="image (default: scale.png beside the sweep)")
    a = ap.parse_args(argv)
    try:
        data = load_sweep(a.sweep)
        rows = scale_table(data)
        points = scale_points(data)
    except SweepError as e:
        print(f"scale: {e}", file=sys.stderr)
        return 2
    if not rows:
        print("scale: no finished runs in the sweep", file=sys.stderr)
        return 1
    out = a.output or os.path.join(os.path.dirname(a.sweep) or ".", "scale.png")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ag = np.array([r[0] for r in rows], dtype=float)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    for ax, k, raw, label in ((a1, 2, points[1], "wall time per simulated day [s]"),
                              (a2, 4, points[2], "peak resident memory [MiB]")):
        mean = np.array([r[k] for r in rows])
        half = np.array([r[k + 1] for r in rows])
        # log axes: an interval reaching below zero is drawn down to the smallest run instead
        lo = np.where(np.isnan(half), 0, np.minimum(half, mean - 0.5 * raw.min()))
        ax.errorbar(ag, mean, yerr=[lo, np.where(np.isnan(half), 0, half)], marker="o",
                    capsize=3, label="mean, 95 % CI")
        ax.plot(points[0], raw, "x", color="grey", alpha=0.7, label="runs")
        ax.legend(loc="upper left")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("agents")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
    expo = growth_exponent(rows)
    a1.set_title(f"cost of a simulated day (slope {expo:.2f})")
    a2.set_title("memory of one run")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)

    print(f"{'agents':>8} {'n':>3} {'wall s/day':>11} {'+-':>8} {'peak MiB':>9} {'+-':>7}")
    for x, n, w, wh, m, mh in rows:
        print(f"{x:8d} {n:3d} {w:11.3f} {wh:8.3f} {m:9.1f} {mh:7.1f}")
    print(f"growth exponent of wall time per day in agents: {expo:.2f}")
    print(f"scale: wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
