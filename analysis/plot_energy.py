#!/usr/bin/env python3
"""Traded energy per agent type: kWh sold and bought in the market (from /trades joined with
/agents), beside each type's realised generation and load.

Writes energy.png.  usage: python3 analysis/plot_energy.py RUN.h5 -o DIR
"""

import sys

import numpy as np

import plotkit
from plotkit import plt


def per_type(run):
    """{type: dict(agents, sold, bought, generation, load)} in kWh, types in /agents order."""
    ag = run.table("agents")
    tr = run.table("trades")
    type_of = {int(i): ty for i, ty in zip(ag["id"], ag["type"])}
    out = {}
    for ty in ag["type"]:
        out.setdefault(ty, dict(agents=0, sold=0.0, bought=0.0, generation=0.0, load=0.0))
    for i, ty in type_of.items():
        row = int(np.flatnonzero(ag["id"] == i)[0])
        out[ty]["agents"] += 1
        out[ty]["generation"] += float(ag["generation_kwh"][row])
        out[ty]["load"] += float(ag["load_kwh"][row])
    for s, b, kwh in zip(tr["seller"], tr["buyer"], tr["kwh"]):
        out[type_of[int(s)]]["sold"] += float(kwh)
        out[type_of[int(b)]]["bought"] += float(kwh)
    return out


def plot(run, outdir):
    data = per_type(run)
    types = list(data)
    x = np.arange(len(types))
    w = 0.2
    fig, ax = plt.subplots(figsize=(max(7, 1.3 * len(types) + 2), 5))
    series = [("sold", "tab:green", None), ("bought", "tab:blue", None),
              ("generation", "tab:green", 0.35), ("load", "tab:blue", 0.35)]
    for k, (key, color, alpha) in enumerate(series):
        vals = [data[t][key] for t in types]
        ax.bar(x + (k - 1.5) * w, vals, w, color=color, alpha=alpha or 1.0,
               hatch="//" if alpha else None, edgecolor=color,
               label={"sold": "sold in the market", "bought": "bought in the market",
                      "generation": "realised generation", "load": "realised load"}[key])
    ax.set_xticks(x)
    ax.set_xticklabels([f"{t}\n({data[t]['agents']} agent{'s' * (data[t]['agents'] != 1)})"
                        for t in types], fontsize=8, rotation=20 if len(types) > 5 else 0)
    ax.set_yscale("symlog", linthresh=0.1)
    ax.set_ylabel("energy (kWh, whole run; symlog)")
    traded = sum(d["sold"] for d in data.values())
    ax.set_title(plotkit.title(run, f"Energy per agent type — {traded:.1f} kWh traded"))
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return [plotkit.save(fig, outdir, "energy.png")]


if __name__ == "__main__":
    sys.exit(plotkit.main(plot, __doc__))
