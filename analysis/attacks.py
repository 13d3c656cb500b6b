#!/usr/bin/env python3
"""attacks -- the attack experiment's figure: detection rate, rejected trades and the latency and
wall-time overhead of security against the attack rate, one line per attack kind
(scenarios/attacks.ini).

    setm sweep scenarios/attacks.ini -o out/attacks -j 2
    python3 analysis/attacks.py out/attacks/sweep.h5 -o out/attacks/attacks.png

The sweep is a full factorial of three rates; each line takes one kind alone (the other swept
rates at 0), and rate 0 is the all-zero point.  Per run (derived from /summary and /runs):

  detection rate   tamper_rate: attacks_detected / attacks_injected (market messages);
                   double_spend_rate: chain_double_spends_detected / chain_double_spend_attacks;
                   tampered_block_rate: chain_tampered_rejected / chain_tampered_copies
  rejected         trades_rejected_by_chain and messages_rejected
  latency          request->agreement + agreement->inclusion + inclusion->confirmation means,
                   divided by the same sum in the all-zero run with the same seed (repetition)
  wall time        /runs wall_time_s divided likewise by the all-zero run's

Points are means over the seeds with 95 % Student t intervals (plot_sweep.draw).
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plot_sweep import SweepError, draw, load_sweep  # noqa: E402

__all__ = ["KINDS", "LATENCY", "derive", "draw_figure", "main"]

# swept key -> (label, detected column, injected column)
KINDS = {
    "attacks.tamper_rate": ("tampered messages", "attacks_detected", "attacks_injected"),
    "attacks.double_spend_rate": ("double spends", "chain_double_spends_detected",
                                  "chain_double_spend_attacks"),
    "attacks.tampered_block_rate": ("tampered block relays", "chain_tampered_rejected",
                                    "chain_tampered_copies"),
}
LATENCY = ["latency_request_agree_mean", "latency_agree_include_mean",
           "latency_include_confirm_mean"]
PANELS = [("detection_rate", "detected / injected (log)", True),
          ("trades_rejected_by_chain", "trades rejected by the chain", False),
          ("messages_rejected", "market messages rejected by checks", False),
          ("latency_rel", "end-to-end latency / rate-0 run", False),
          ("wall_rel", "run wall time / rate-0 run", False)]


def _ratio(a, b):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1), np.nan)


def derive(data):
    """Add per-run columns to data['cols']: detection_rate (of the kind that is on alone; NaN
    elsewhere), latency_total_mean, latency_rel and wall_rel (paired with the all-zero run of the
    same repetition).  Returns the list of swept attack keys found."""
    c = data["cols"]
    keys = [k for k in data["keys"] if k in KINDS]
    if not keys:
        raise SweepError("the sweep varies none of " + ", ".join(KINDS)
                         + " (is this a sweep of scenarios/attacks.ini?)")
    need = ["status", "rep", "wall_time_s"] + LATENCY + [v for k in keys for v in KINDS[k][1:]]
    for n in need + ["trades_rejected_by_chain", "messages_rejected"]:
        if n not in c:
            raise SweepError(f"the sweep has no '{n}' column")
    rates = {k: c[k].astype(float) for k in keys}
    zero = np.all([rates[k] == 0 for k in keys], axis=0) & (c["status"] == "ok")
    det = np.full(len(c["status"]), np.nan)
    for k in keys:
        alone = np.all([rates[o] == 0 for o in keys if o != k], axis=0) & (rates[k] > 0)
        r = _ratio(c[KINDS[k][1]].astype(float), c[KINDS[k][2]].astype(float))
        det[alone] = r[alone]
    c["detection_rate"] = det
    c["latency_total_mean"] = np.sum([c[m].astype(float) for m in LATENCY], axis=0)
    for col, base in (("latency_rel", "latency_total_mean"), ("wall_rel", "wall_time_s")):
        ref = {}
        for rep in np.unique(c["rep"][zero]):
            ref[rep] = float(np.mean(c[base][zero & (c["rep"] == rep)]))
        c[col] = np.array([c[base][i] / ref[c["rep"][i]] if c["rep"][i] in ref else np.nan
                           for i in range(len(c["rep"]))], dtype=float)
    data["units"].update({"detection_rate": "", "latency_rel": "", "wall_rel": ""})
    return keys


def draw_figure(data, out):
    """One panel per metric, one line per attack kind alone (the all-zero point at rate 0), into
    `out`.  Returns {(metric, key): rows} with rows (rate, mean, half, n) as drawn."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = derive(data)
    c = data["cols"]
    rates = {k: c[k].astype(float) for k in keys}
    fig, axes = plt.subplots(1, len(PANELS), figsize=(4 * len(PANELS), 4))
    drawn = {}
    for ax, (metric, title, logy) in zip(axes, PANELS):
        for k in keys:
            alone = np.all([rates[o] == 0 for o in keys if o != k], axis=0)
            if metric == "detection_rate":
                alone = alone & (rates[k] > 0)
            rows = draw(ax, data, k, metric, select=alone, label=KINDS[k][0])
            drawn[(metric, k)] = [(float(x), float(m), float(h), int(n))
                                  for _, x, m, h, n in rows]
        ax.set_xscale("symlog", linthresh=0.01)
        ax.set_xlim(left=0)
        ax.set_xlabel("attack rate (per message / trade / block)")
        ax.set_ylabel("")
        ax.set_title(title, fontsize=10)
        if metric.endswith("_rel"):
            ax.axhline(1.0, color="grey", lw=0.8)
        if logy:
            ax.set_yscale("log")
    axes[0].legend(fontsize=8)
    fig.suptitle("attacks, one kind at a time (mean, 95 % CI across seeds)")
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return drawn


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sweep", help="DIR/sweep.h5 of scenarios/attacks.ini")
    ap.add_argument("-o", "--output", help="image (default: attacks.png beside the sweep)")
    a = ap.parse_args(argv)
    out = a.output or os.path.join(os.path.dirname(a.sweep) or ".", "attacks.png")
    try:
        data = load_sweep(a.sweep)
        if "status" not in data["cols"] or not (data["cols"]["status"] == "ok").any():
            print("attacks: no finished runs in the sweep", file=sys.stderr)
            return 1
        drawn = draw_figure(data, out)
    except SweepError as e:
        print(f"attacks: {e}", file=sys.stderr)
        return 2
    metrics = [p[0] for p in PANELS]
    print(f"{'attack':>28} {'rate':>6} {'n':>3} " + " ".join(f"{m[:16]:>16}" for m in metrics))
    for k in KINDS:
        if (metrics[1], k) not in drawn:
            continue
        table = {m: {r[0]: r for r in drawn[(m, k)]} for m in metrics}
        for x, _, _, n in drawn[(metrics[1], k)]:
            vals = [table[m].get(x, (0, np.nan))[1] for m in metrics]
            print(f"{k:>28} {x:6g} {n:3d} " + " ".join(f"{v:16.4g}" for v in vals))
    print(f"attacks: wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
