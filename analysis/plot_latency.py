#!/usr/bin/env python3
"""Latency distributions per stage of a trade (CDF), from the /trades timestamps.

Stages: request -> agreement (t_request -> t_agree, the market), agreement -> inclusion
(t_agree -> t_included, the blockchain), inclusion -> confirmation (t_included -> t_confirmed)
and request -> confirmation end to end.  A stage whose timestamps are NaN in every trade (no
blockchain in the run, or nothing confirmed) is listed as "no data" instead of drawn.  The
/summary percentiles (latency_*_p50, _p95), where present, are marked on the curves.

Writes latency.png.  usage: python3 analysis/plot_latency.py RUN.h5 -o DIR
"""

import sys

import numpy as np

import plotkit
from plotkit import plt

# (label, start column, end column, summary prefix)
STAGES = [
    ("request → agreement", "t_request", "t_agree", "latency_request_agree"),
    ("agreement → inclusion", "t_agree", "t_included", "latency_agree_include"),
    ("inclusion → confirmation", "t_included", "t_confirmed", "latency_include_confirm"),
    ("request → confirmation", "t_request", "t_confirmed", "latency_request_confirm"),
]


def stage_latencies(trades):
    """{label: finite latencies (s)} for every stage whose columns exist."""
    out = {}
    for label, a, b, _ in STAGES:
        if a in trades and b in trades:
            d = trades[b] - trades[a]
            out[label] = d[np.isfinite(d)]
    return out


def plot(run, outdir):
    t = run.table("trades")
    lat = stage_latencies(t)
    fig, ax = plt.subplots(figsize=(9, 5.5))
    missing = []
    drawn = []
    for (label, a, b, key), color in zip(STAGES, plt.rcParams["axes.prop_cycle"].by_key()["color"]):
        d = lat.get(label)
        if d is None or len(d) == 0:
            missing.append(f"{label}: no data ({b} is NaN in all {t.nrows} trades)"
                           if d is not None else f"{label}: no column {a}/{b}")
            continue
        xs = np.sort(d)
        ys = np.arange(1, len(xs) + 1) / len(xs)
        ax.step(xs, ys, where="post", color=color,
                label=f"{label} (n={len(xs)}, median {np.median(xs):.3g} s)")
        drawn.append(xs)
        for q in ("p50", "p95"):
            v = run.summary.get(f"{key}_{q}")
            if v is not None and np.isfinite(v):
                ax.plot([v], [0.5 if q == "p50" else 0.95], "D", color=color, ms=5,
                        label=f"/summary {key}_p50, _p95" if q == "p50" else None)
    if drawn:
        pos = np.concatenate(drawn)
        pos = pos[pos > 0]
        if len(pos) and pos.max() / pos.min() > 50:
            ax.set_xscale("log")
    ax.set_xlabel("latency (s, simulated)")
    ax.set_ylabel("fraction of trades ≤ latency")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.set_title(plotkit.title(run, "Trade latency per stage (CDF)"))
    if drawn:
        ax.legend(fontsize=8, loc="lower right")
    if missing or not drawn:
        msg = "\n".join(missing) if missing else "no trades in this run"
        ax.text(0.02, 0.97, msg, transform=ax.transAxes, va="top", fontsize=8,
                bbox=dict(facecolor="white", alpha=0.8, edgecolor="0.7"))
    fig.tight_layout()
    return [plotkit.save(fig, outdir, "latency.png")]


if __name__ == "__main__":
    sys.exit(plotkit.main(plot, __doc__))
