#!/usr/bin/env python3
"""Block intervals and difficulty over time, from /blocks.

Panels: the interval between consecutive main-chain blocks against the time the later one was
found (stale blocks marked on the time axis), the distribution of intervals against the
exponential that proof of work predicts at the observed mean, and the difficulty (expected
hash attempts per block, from the compact `bits` when no difficulty column exists) over time.

A run without a /blocks table (no blockchain) gets a figure saying so and exit status 0, so
`make plots` goes on.

Writes blocks.png.  usage: python3 analysis/plot_blocks.py RUN.h5 -o DIR
"""

import sys

import numpy as np

import plotkit
from plotkit import plt

TIME_COLS = ("t_found", "t", "time")
MAIN_COLS = ("main", "on_main", "main_chain", "in_main")
DIFF_COLS = ("difficulty", "expected_attempts", "work")


def first_col(table, names):
    for n in names:
        if n in table:
            return n
    return None


def bits_work(bits):
    """Expected attempts per block of compact targets `bits` (2^256 / (target + 1))."""
    bits = np.asarray(bits, dtype=np.uint64)
    exp = (bits >> np.uint64(24)).astype(np.int64)
    mant = (bits & np.uint64(0x007FFFFF)).astype(np.float64)
    target = mant * np.power(256.0, exp - 3)
    with np.errstate(divide="ignore"):
        return np.where(target > 0, np.exp2(256.0) / (target + 1.0), np.nan)


def block_series(blocks):
    """(t, height, main mask, difficulty, difficulty label) from whatever columns /blocks has."""
    tc = first_col(blocks, TIME_COLS)
    if tc is None:
        raise KeyError(f"/blocks has no time column (one of {TIME_COLS})")
    t = np.asarray(blocks[tc], dtype=float)
    height = np.asarray(blocks["height"]) if "height" in blocks else np.arange(len(t))
    mc = first_col(blocks, MAIN_COLS)
    if mc is not None:
        main = np.asarray(blocks[mc]).astype(bool)
    elif "stale" in blocks:
        main = ~np.asarray(blocks["stale"]).astype(bool)
    else:
        main = np.ones(len(t), bool)
    dc = first_col(blocks, DIFF_COLS)
    if dc is not None:
        diff, label = np.asarray(blocks[dc], dtype=float), f"{dc} ({blocks.units.get(dc) or '-'})"
    elif "bits" in blocks:
        diff, label = bits_work(blocks["bits"]), "expected attempts per block (from bits)"
    else:
        diff, label = None, None
    return t, height, main, diff, label


def plot(run, outdir):
    if not run.has_table("blocks"):
        msg = (f"this run has no /blocks table (no blockchain in {run.path});\n"
               "block intervals and difficulty need a run with the chain enabled")
        print(f"plot_blocks: {msg.splitlines()[0]}", file=sys.stderr)
        return [plotkit.note_figure(run, outdir, "blocks.png", "Block intervals and difficulty",
                                    msg)]
    b = run.table("blocks")
    t, height, main, diff, dlabel = block_series(b)
    order = np.argsort(height[main], kind="stable")
    tm = t[main][order]
    interval = np.diff(tm)
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.5), gridspec_kw={"width_ratios": [3, 2, 3]})
    ax = axes[0]
    if len(interval):
        ax.plot(tm[1:] / 3600.0, interval, ".", ms=4, label="main-chain interval")
        ax.axhline(interval.mean(), color="tab:red", lw=1, label=f"mean {interval.mean():.3g} s")
        target = run.config().get("chain", {}).get("block_interval_s")
        try:
            ax.axhline(float(target), color="k", lw=1, ls="--", label=f"target {target} s")
        except (TypeError, ValueError):
            pass
    stale_t = t[~main]
    if len(stale_t):
        ax.plot(stale_t / 3600.0, np.zeros(len(stale_t)), "x", color="tab:orange",
                label=f"stale blocks ({len(stale_t)})")
    ax.set_xlabel("simulated time (h)")
    ax.set_ylabel("block interval (s)")
    ax.set_title(f"{main.sum()} main-chain blocks, {(~main).sum()} stale", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)

    ax = axes[1]
    if len(interval) >= 2:
        ax.hist(interval, bins=min(40, max(5, len(interval) // 5)), density=True, alpha=0.6,
                label="observed")
        xs = np.linspace(0, interval.max(), 200)
        mu = interval.mean()
        ax.plot(xs, np.exp(-xs / mu) / mu, "r-", label="exponential, same mean")
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "fewer than 3 main-chain blocks", ha="center",
                transform=ax.transAxes)
    ax.set_xlabel("block interval (s)")
    ax.set_ylabel("density")
    ax.set_title("interval distribution", fontsize=10)

    ax = axes[2]
    if diff is not None:
        ax.step(t[main][order] / 3600.0, diff[main][order], where="post")
        if np.all(diff[main] > 0) and np.nanmax(diff) / max(np.nanmin(diff), 1e-300) > 20:
            ax.set_yscale("log")
        ax.set_ylabel(dlabel, fontsize=8)
    else:
        ax.text(0.5, 0.5, "no difficulty or bits column in /blocks", ha="center",
                transform=ax.transAxes)
    ax.set_xlabel("simulated time (h)")
    ax.set_title("difficulty over time (main chain)", fontsize=10)
    ax.grid(alpha=0.3)
    fig.suptitle(plotkit.title(run, "Block intervals and difficulty"))
    fig.tight_layout()
    return [plotkit.save(fig, outdir, "blocks.png")]


if __name__ == "__main__":
    sys.exit(plotkit.main(plot, __doc__))
