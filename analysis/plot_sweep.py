#!/usr/bin/env python3
"""plot_sweep -- one /summary metric of a sweep against one swept parameter, with confidence
intervals across seeds.

Reads DIR/sweep.h5 as `setm sweep` writes it: /runs (run, point, rep, seed, one column per swept
key, file, status, wall_time_s, peak_rss_kib, ...) and /summary (one column per /summary scalar of
the runs, one row per run).  Only runs with status "ok" count.  Runs sharing a value of the
parameter (and of --group, when given) are pooled: their other swept keys and their seeds are the
repetitions, so sweep one key at a time, or name the others with --group, for clean intervals.

    python3 analysis/plot_sweep.py out/sweep/sweep.h5 --param population.count --metric trades
    python3 analysis/plot_sweep.py out/sweep/sweep.h5 -p chain.difficulty_bits -m mean_price \\
        --group market.mechanism --logy -o price.png

The interval is mean +- t(level, n-1) * sd / sqrt(n) (Student t; no interval when n = 1).  The
table of means and intervals is also printed.  Columns of /runs (wall_time_s, peak_rss_kib) may be
used as metrics too.
"""

import argparse
import os
import sys

import numpy as np

import setm_h5

__all__ = ["SweepError", "load_sweep", "aggregate", "t_quantile", "draw", "plot", "main"]


# One error type for every loader (analysis/setm_h5.py): SweepError is its old name here.
SweepError = setm_h5.SetmH5Error


def load_sweep(path):
    """Return {column name: numpy array} for /runs and /summary together (a /summary column keeps
    its name unless /runs has the same one, then it becomes 'summary/NAME'), plus 'units' (name ->
    units) and 'keys' (the swept keys, in sweep order).  Reads through setm_h5.open_sweep (a
    folder holding sweep.h5 works too); a missing or broken file raises SweepError (SetmH5Error)."""
    sw = setm_h5.open_sweep(path)
    return {"cols": sw.frame(), "units": dict(sw.units), "keys": list(sw.params), "path": sw.path}


from setm_stats import aggregate, t_quantile  # noqa: E402  (re-exported: the old home)


def _column(data, name, what):
    cols = data["cols"]
    if name in cols:
        return cols[name]
    raise SweepError(data.get("path"), f"no {what} '{name}' in the sweep (available: "
                     f"{', '.join(sorted(cols))})")


def draw(ax, data, param, metric, group=None, level=0.95, select=None, label=None,
         xmap=None):
    """Draw `metric` against `param` into the matplotlib axes `ax`: one errorbar line per value of
    `group` (or one line, labelled `label`), runs restricted to status "ok" and, when given, to
    the boolean mask `select`.  `xmap` maps the x values before plotting (e.g. to place 0 on a
    log axis).  Returns rows (group, x, mean, half, n); sets the y label from the metric's units.
    Used by plot() and by the experiment scripts that draw several panels."""
    x = _column(data, param, "parameter")
    y = _column(data, metric, "metric")
    ok = _column(data, "status", "column") == "ok"
    if select is not None:
        ok = ok & np.asarray(select, dtype=bool)
    groups = [None]
    g = None
    if group:
        g = _column(data, group, "group parameter")
        groups = list(np.unique(g[ok]))
    rows = []
    for gv in groups:
        sel = ok if gv is None else ok & (g == gv)
        xs, mean, half, n = aggregate(x[sel], y[sel], level)
        for r in zip(xs, mean, half, n):
            rows.append((gv,) + r)
        lab = label if gv is None else f"{group} = {gv}"
        if xs.dtype.kind in "US":
            pos = np.arange(len(xs))
            ax.set_xticks(pos)
            ax.set_xticklabels(xs)
        else:
            pos = xs if xmap is None else xmap(xs)
        ax.errorbar(pos, mean, yerr=np.where(np.isnan(half), 0, half), marker="o", capsize=3,
                    label=lab)
    unit = data["units"].get(metric, "")
    ax.set_ylabel(f"{metric} [{unit}]" if unit else metric)
    ax.grid(True, alpha=0.3)
    return rows


def plot(data, param, metric, group=None, level=0.95, logx=False, logy=False, out=None,
         title=None):
    """Draw `metric` against `param` (one line per value of `group`) into `out` (a file name;
    None: return the figure).  Returns (figure, rows) where rows are (group, x, mean, half, n)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # check the columns before opening a figure, so a bad name leaves nothing behind
    for name, what in ((param, "parameter"), (metric, "metric"), ("status", "column")):
        _column(data, name, what)
    if group:
        _column(data, group, "group parameter")
    fig, ax = plt.subplots(figsize=(6, 4))
    rows = draw(ax, data, param, metric, group, level)
    ax.set_xlabel(param)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    if group:
        ax.legend()
    ax.set_title(title or f"{metric} vs {param} (mean, {level:.0%} CI across seeds)")
    fig.tight_layout()
    if out:
        fig.savefig(out, dpi=120)
        plt.close(fig)
    return fig, rows


def main(argv=None, outdir=None):
    """The command line; `outdir` (setm-plot sweep -o DIR) is the folder of the default file
    name instead of the sweep's own."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sweep", help="DIR/sweep.h5 written by setm sweep")
    ap.add_argument("-p", "--param", help="swept key on the x axis (default: the first)")
    ap.add_argument("-m", "--metric", required=True, help="/summary scalar (or /runs column)")
    ap.add_argument("-g", "--group", help="another swept key: one line per value")
    ap.add_argument("--level", type=float, default=0.95, help="confidence level (0.95)")
    ap.add_argument("--logx", action="store_true")
    ap.add_argument("--logy", action="store_true")
    ap.add_argument("-o", "--output", help="image file (default: <metric>_vs_<param>.png beside "
                                           "the sweep)")
    a = ap.parse_args(argv)
    try:
        data = load_sweep(a.sweep)
        param = a.param or (data["keys"][0] if data["keys"] else None)
        if not param:
            raise SweepError(f"{a.sweep}: the sweep has no swept key; name one with --param")
        out = a.output or os.path.join(outdir or os.path.dirname(a.sweep) or ".",
                                       f"{a.metric}_vs_{param}.png".replace("/", "_"))
        _, rows = plot(data, param, a.metric, a.group, a.level, a.logx, a.logy, out)
    except SweepError as e:
        print(f"plot_sweep: {e}", file=sys.stderr)
        return 2
    head = (f"{a.group:>16} " if a.group else "") + f"{param:>20} {'n':>3} {'mean':>14} {'+-':>12}"
    print(head)
    for gv, x, mean, half, n in rows:
        print((f"{gv!s:>16} " if a.group else "") + f"{x!s:>20} {n:3d} {mean:14.6g} {half:12.4g}")
    print(f"plot_sweep: wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
