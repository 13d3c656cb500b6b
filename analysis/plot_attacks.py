#!/usr/bin/env python3
"""Attack detection: per attack kind, how many attacks were injected and how many were detected,
lost in the network or went undetected (from /security), with the run's /summary totals.

Every /security row whose `attack` is not 'none' is one injected attack; `detected` = 1 means
a check caught it (the check is named in `check`), action 'lost' means the network dropped it
before any check.  Honest messages that a check rejected (false positives) are counted apart.
Kinds added later (chain-level attacks) are picked up from the table as they appear.

Writes attacks.png.  usage: python3 analysis/plot_attacks.py RUN.h5 -o DIR
"""

import sys

import numpy as np

import plotkit
from plotkit import plt


def counts(run):
    """{kind: dict(injected, detected, lost, undetected, checks={check: n})} plus the number of
    honest messages rejected, from /security."""
    sec = run.table("security")
    attack, detected, action = sec["attack"], sec["detected"], sec["action"]
    check = sec["check"] if "check" in sec else np.full(len(attack), "")
    out = {}
    for kind in sorted(set(attack) - {"none"}):
        m = attack == kind
        det = m & (detected == 1)
        lost = m & (action == "lost")
        out[kind] = dict(injected=int(m.sum()), detected=int(det.sum()), lost=int(lost.sum()),
                         undetected=int((m & (detected != 1) & (action != "lost")).sum()),
                         checks={c: int((det & (check == c)).sum()) for c in sorted(set(check[det]))})
    honest_rejected = int(((attack == "none") & (action != "accepted") & (action != "lost")).sum())
    return out, honest_rejected


def plot(run, outdir):
    data, honest_rejected = counts(run)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 5), gridspec_kw={"width_ratios": [3, 1]})
    kinds = list(data)
    if not kinds:
        ax.axis("off")
        ax.text(0.5, 0.5, "no attacks injected in this run\n(set attacks.*_rate > 0, e.g. "
                "scenarios/attacks_demo.ini)", ha="center", va="center", fontsize=11)
    else:
        x = np.arange(len(kinds))
        w = 0.2
        for k, (key, color) in enumerate([("injected", "0.5"), ("detected", "tab:green"),
                                          ("lost", "tab:orange"), ("undetected", "tab:red")]):
            vals = [data[kd][key] for kd in kinds]
            bars = ax.bar(x + (k - 1.5) * w, vals, w, color=color, label=key)
            ax.bar_label(bars, fontsize=7)
        ax.set_xticks(x)
        ax.set_xticklabels([f"{kd}\n" + ", ".join(f"{c}" for c in data[kd]["checks"])
                            for kd in kinds], fontsize=8)
        ax.set_ylabel("attack messages")
        rate = [data[kd]["detected"] / max(data[kd]["injected"] - data[kd]["lost"], 1)
                for kd in kinds]
        ax.set_title("Per kind (under each: the checks that caught it); detection rate "
                     + ", ".join(f"{r:.0%}" for r in rate), fontsize=9)
        ax.legend(fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    # The run's own totals, as the simulator summarised them.
    keys = [k for k in ("attacks_injected", "attacks_detected", "attacks_lost",
                        "attacks_undetected", "honest_rejected") if k in run.summary]
    vals = [run.summary[k] for k in keys]
    bars = ax2.barh([k.replace("_", " ") for k in keys], vals,
                    color=["0.5", "tab:green", "tab:orange", "tab:red", "tab:purple"][:len(keys)])
    ax2.bar_label(bars, fontsize=8)
    ax2.invert_yaxis()
    ax2.set_title(f"/summary totals (table: {honest_rejected} honest rejected)", fontsize=9)
    fig.suptitle(plotkit.title(run, "Attack detection"))
    fig.tight_layout()
    return [plotkit.save(fig, outdir, "attacks.png")]


if __name__ == "__main__":
    sys.exit(plotkit.main(plot, __doc__))
