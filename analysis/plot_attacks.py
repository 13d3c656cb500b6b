#!/usr/bin/env python3
"""Attack detection: per attack kind, what was injected and what the checks caught, from
/security (row by row) and from the run's /summary counters.

Left: /security rows per `attack` kind, split into detected (`detected` = 1), lost in the network
before any check (`action` = lost) and not detected; under each kind the checks/actions seen.
For the market's message attacks (unregistered, forged_mac, tampered, replay, impersonation) a
row is one injected message.  For chain-level kinds a row is an event: one per receiving node
for a tampered block, one per withheld/published/override step of selfish mining, one per
rejected transaction after a double spend (which includes later honest spends of the drained
wallet), one per confirmed block a reorg reverted.  Honest messages a check rejected are shown
as kind 'none (honest)'.

Right: injected against detected as the simulator counted them in /summary, for every pair the
run has (market messages; chain double spends, tampered blocks), and selfish-mining outcomes.
Kinds added later are picked up from the table as they appear.

Writes attacks.png.  usage: python3 analysis/plot_attacks.py RUN.h5 -o DIR
"""

import sys

import numpy as np

import plotkit
from plotkit import plt

# (label, injected scalar, detected scalar) pairs of /summary
SUMMARY_PAIRS = [
    ("market messages", "attacks_injected", "attacks_detected"),
    ("double spends", "chain_double_spend_attacks", "chain_double_spends_detected"),
    ("tampered block copies", "chain_tampered_copies", "chain_tampered_rejected"),
]


def counts(run):
    """{kind: dict(rows, detected, lost, undetected, actions={action: n})} from /security;
    honest rows that a check rejected come under 'none (honest)'."""
    sec = run.table("security")
    attack, detected, action = sec["attack"], sec["detected"], sec["action"]
    out = {}
    for kind in sorted(set(attack)):
        m = attack == kind
        if kind == "none":
            m &= (action != "accepted") & (action != "lost")
            if not m.any():
                continue
            kind = "none (honest)"
        lost = m & (action == "lost")
        det = m & (detected == 1) & ~lost
        acts = {a: int((m & (action == a)).sum()) for a in sorted(set(action[m]))}
        out[kind] = dict(rows=int(m.sum()), detected=int(det.sum()), lost=int(lost.sum()),
                         undetected=int((m & ~det & ~lost).sum()), actions=acts)
    return out


def plot(run, outdir):
    data = counts(run)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(16, 6), gridspec_kw={"width_ratios": [5, 2]})
    kinds = list(data)
    if not kinds:
        ax.axis("off")
        ax.text(0.5, 0.5, "no attacks injected in this run\n(set attacks.*_rate > 0, e.g. "
                "scenarios/attacks_demo.ini)", ha="center", va="center", fontsize=11)
    else:
        x = np.arange(len(kinds))
        bottom = np.zeros(len(kinds))
        for key, color in (("detected", "tab:green"), ("lost", "tab:orange"),
                           ("undetected", "tab:red")):
            vals = np.array([data[k][key] for k in kinds], dtype=float)
            bars = ax.bar(x, vals, 0.6, bottom=bottom, color=color, label=key)
            ax.bar_label(bars, labels=[str(int(v)) if v else "" for v in vals], label_type="center",
                         fontsize=7)
            bottom += vals

        def actions(k):
            a = data[k]["actions"]
            return "\n".join(f"{n} {v}" for n, v in list(a.items())[:3]) + \
                ("\n…" if len(a) > 3 else "")
        ax.set_xticks(x)
        ax.set_xticklabels([f"{k}\n{actions(k)}" for k in kinds], fontsize=7)
        if bottom.max() > 20 * max(bottom[bottom > 0].min(), 1):
            ax.set_yscale("log")
            ax.set_ylim(bottom=0.8)
        ax.set_ylabel("/security rows")
        ax.set_title("/security rows per attack kind (under each: actions)", fontsize=10)
        ax.legend(fontsize=8)
        ax.grid(axis="y", alpha=0.3)

    pairs = [(lab, run.summary[i], run.summary[d]) for lab, i, d in SUMMARY_PAIRS
             if i in run.summary and d in run.summary]
    y = np.arange(len(pairs))
    if pairs:
        inj = [p[1] for p in pairs]
        det = [p[2] for p in pairs]
        b1 = ax2.barh(y - 0.2, inj, 0.4, color="0.55", label="injected")
        b2 = ax2.barh(y + 0.2, det, 0.4, color="tab:green", label="detected")
        ax2.bar_label(b1, fontsize=8)
        ax2.bar_label(b2, fontsize=8)
        ax2.set_yticks(y)
        ax2.set_yticklabels([p[0] for p in pairs])
        ax2.invert_yaxis()
        ax2.set_xlim(0, 1.15 * max(max(inj), max(det), 1))
        ax2.legend(fontsize=8, loc="lower right")
    extra = []
    for key, fmt in (("attacks_lost", "market attacks lost: {:.0f}"),
                     ("attacks_undetected", "market attacks undetected: {:.0f}"),
                     ("honest_rejected", "honest messages rejected: {:.0f}"),
                     ("chain_selfish_blocks_main", "selfish blocks on main chain: {:.0f}"),
                     ("chain_selfish_share_main", "selfish share of main chain: {:.1%}"),
                     ("chain_confirmed_reverted", "confirmed blocks reverted: {:.0f}")):
        v = run.summary.get(key)
        if v is not None and np.isfinite(v):
            extra.append(fmt.format(v))
    if extra:
        ax2.text(1.0, -0.1, "\n".join(extra), transform=ax2.transAxes,
                 ha="right", va="top", fontsize=8,
                 bbox=dict(facecolor="white", alpha=0.85, edgecolor="0.7"))
    ax2.set_title("/summary: injected vs detected", fontsize=10)
    fig.suptitle(plotkit.title(run, "Attack detection"))
    fig.tight_layout()
    return [plotkit.save(fig, outdir, "attacks.png")]


if __name__ == "__main__":
    sys.exit(plotkit.main(plot, __doc__))
