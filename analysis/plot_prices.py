#!/usr/bin/env python3
"""Clearing price per round and slot, with the bid/ask envelope (price convergence).

Writes prices.png: (top) over simulated time, each slot's opening envelope (best bid and best
ask before round 0 clears), every round's clearing price (dots coloured by round, area ~
volume) and each slot's volume-weighted mean price; (bottom) the same by round within the slot, across all slots
that traded: median best bid / best ask with 10-90 % bands and the clearing prices -- the
envelope closing and prices settling show convergence.

usage: python3 analysis/plot_prices.py RUN.h5 -o DIR
"""

import sys

import numpy as np

import plotkit
from plotkit import plt


def _band(ax, x, values, color, label):
    """Median line and 10-90 % band of `values` (one array per x), skipping empty ones."""
    xs, med, lo, hi = [], [], [], []
    for xi, v in zip(x, values):
        v = v[np.isfinite(v)]
        if len(v):
            xs.append(xi)
            med.append(np.median(v))
            lo.append(np.percentile(v, 10))
            hi.append(np.percentile(v, 90))
    if xs:
        ax.plot(xs, med, "-o", color=color, label=label, ms=4)
        ax.fill_between(xs, lo, hi, color=color, alpha=0.2, lw=0)


def plot(run, outdir):
    r = run.table("rounds")
    s = run.table("slots")
    units = r.units["price"] or "EUR/MWh"
    th = r["t"] / 3600.0
    bid, ask, price, vol = r["best_bid"], r["best_ask"], r["price"], r["volume_kwh"]

    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(11, 8), gridspec_kw={"height_ratios": [3, 2]})
    # One x per slot (its start, hours); rounds of a slot are spread across its width.
    n_rounds = int(r["round"].max()) + 1 if r.nrows else 0
    width = (s["t_end"] - s["t_start"]) / 3600.0 if s.nrows else np.array([0.25])
    w = float(np.median(width))
    x = th  # each round at its clearing time
    first = r["round"] == 0
    ts = th[first] - w / (n_rounds + 1)  # the slot's opening, just before round 0 clears
    lo0, hi0 = np.fmin(bid[first], ask[first]), np.fmax(bid[first], ask[first])
    ax.fill_between(np.r_[ts, ts[-1:] + w] if len(ts) else ts, np.r_[lo0, lo0[-1:]],
                    np.r_[hi0, hi0[-1:]], step="post", color="tab:blue", alpha=0.15, lw=0,
                    label="opening bid/ask envelope (round 0)")
    ax.step(ts, bid[first], where="post", color="tab:blue", lw=0.8, label="opening best bid")
    ax.step(ts, ask[first], where="post", color="tab:red", lw=0.8, label="opening best ask")
    traded = np.isfinite(price)
    size = 6 + 50 * vol[traded] / max(np.nanmax(vol), 1e-12) if traded.any() else 8
    sc = ax.scatter(x[traded], price[traded], s=size, c=r["round"][traded], cmap="viridis",
                    vmin=0, vmax=max(n_rounds - 1, 1), zorder=3,
                    label="clearing price (colour: round, area ~ kWh)")
    if traded.any():
        fig.colorbar(sc, ax=ax, label="round within the slot", pad=0.01)
    mid = 0.5 * (s["t_start"] + s["t_end"]) / 3600.0
    ax.plot(mid, s["mean_price"], "-", color="tab:orange", lw=1.5, label="slot mean price")
    ax.set_xlabel("simulated time (h)")
    ax.set_ylabel(f"price ({units})")
    ax.set_title(plotkit.title(run, "Clearing price per round and slot"))
    ax.legend(loc="upper left", fontsize=8, ncol=2)
    ax.grid(alpha=0.3)
    if not traded.any():
        ax.text(0.5, 0.5, "no trades in this run", transform=ax.transAxes, ha="center")

    # Convergence: statistics by round index, over the slots that traded at all.
    slots_traded = np.unique(r["slot"][traded])
    sel = np.isin(r["slot"], slots_traded)
    idx = np.arange(n_rounds)
    by = lambda col: [col[sel & (r["round"] == k)] for k in idx]  # noqa: E731
    _band(ax2, idx, by(bid), "tab:blue", "best bid (median, 10-90 %)")
    _band(ax2, idx, by(ask), "tab:red", "best ask (median, 10-90 %)")
    pr = by(price)
    for k, v in zip(idx, pr):
        v = v[np.isfinite(v)]
        jitter = (np.random.default_rng(k).random(len(v)) - 0.5) * 0.25
        ax2.scatter(k + jitter, v, s=10, color="k", alpha=0.5,
                    label="clearing prices" if k == 0 or not ax2.collections else None)
    ax2.set_xticks(idx)
    ax2.set_xlabel("round within the slot")
    ax2.set_ylabel(f"price ({units})")
    conv = s["rounds_to_converge"]
    conv = conv[conv >= 0]
    txt = (f"{len(slots_traded)} of {s.nrows} slots traded; median rounds to converge "
           f"{np.median(conv):.0f}" if len(conv) else f"{len(slots_traded)} slots traded")
    ax2.set_title(f"Convergence by round ({txt})", fontsize=10)
    handles, labels = ax2.get_legend_handles_labels()
    seen = {}
    for h, lab in zip(handles, labels):
        seen.setdefault(lab, h)
    ax2.legend(seen.values(), seen.keys(), fontsize=8, loc="best")
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    return [plotkit.save(fig, outdir, "prices.png")]


if __name__ == "__main__":
    sys.exit(plotkit.main(plot, __doc__))
