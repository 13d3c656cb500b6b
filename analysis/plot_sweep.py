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
import math
import os
import sys

import h5py
import numpy as np

__all__ = ["SweepError", "load_sweep", "aggregate", "t_quantile", "draw", "plot", "main"]


class SweepError(Exception):
    """The sweep file lacks what was asked for (a column, the file itself)."""


def _decode(a):
    if a.dtype.kind == "S":
        return np.char.decode(a, "utf-8")
    return a


def load_sweep(path):
    """Return {column name: numpy array} for /runs and /summary together (a /summary column keeps
    its name unless /runs has the same one, then it becomes 'summary/NAME'), plus 'units' (name ->
    units) and 'keys' (the swept keys, in sweep order)."""
    if not os.path.exists(path):
        raise SweepError(f"{path}: no such file")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise SweepError(f"{path}: not a readable HDF5 file ({e})") from None
    with f:
        if "runs" not in f:
            raise SweepError(f"{path}: no /runs table (is this a sweep.h5 from setm sweep?)")
        cols, units = {}, {}
        for name, d in f["runs"].items():
            cols[name] = _decode(d[()])
            units[name] = _attr(d, "units")
        if "summary" in f and isinstance(f["summary"], h5py.Group):
            for name, d in f["summary"].items():
                key = name if name not in cols else "summary/" + name
                cols[key] = d[()]
                units[key] = _attr(d, "units")
        keys = _attr(f, "keys")
    return {"cols": cols, "units": units, "keys": [k for k in keys.split(",") if k]}


def _attr(obj, name):
    v = obj.attrs.get(name, "")
    return v.decode() if isinstance(v, bytes) else str(v)


# Two-sided Student t quantiles for 95 % (df 1..30); beyond 30 the normal value is close enough.
_T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
        2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060,
        2.056, 2.052, 2.048, 2.045, 2.042]


def t_quantile(level, df):
    """Two-sided Student t quantile for confidence `level` and `df` degrees of freedom: scipy when
    present, else an exact table for 95 % and a Cornish-Fisher expansion for other levels."""
    if df < 1:
        return math.nan
    try:
        from scipy import stats
        return float(stats.t.ppf(0.5 + level / 2, df))
    except ImportError:
        pass
    if abs(level - 0.95) < 1e-12:
        return _T95[df - 1] if df <= len(_T95) else 1.960
    z = _norm_ppf(0.5 + level / 2)
    v = float(df)
    return (z + (z**3 + z) / (4 * v) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * v**2)
            + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * v**3))


def _norm_ppf(p):
    # Acklam's rational approximation (|error| < 1.2e-9), enough for interval widths.
    a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
         1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00]
    b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
         6.680131188771972e+01, -1.328068155288572e+01]
    c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
         -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00]
    d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
         3.754408661907416e+00]
    if p < 0.02425:
        q = math.sqrt(-2 * math.log(p))
        return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / \
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
    if p > 1 - 0.02425:
        return -_norm_ppf(1 - p)
    q = p - 0.5
    r = q * q
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / \
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)


def aggregate(x, y, level=0.95):
    """Pool y by distinct x (NaN y dropped).  Returns (xs, mean, half-width, n) arrays, xs sorted;
    the half-width is NaN where n < 2."""
    x = np.asarray(x)
    y = np.asarray(y, dtype=float)
    keep = ~np.isnan(y)
    x, y = x[keep], y[keep]
    xs = np.unique(x)
    mean = np.empty(len(xs))
    half = np.empty(len(xs))
    n = np.empty(len(xs), dtype=int)
    for i, v in enumerate(xs):
        s = y[x == v]
        n[i] = len(s)
        mean[i] = s.mean()
        half[i] = (t_quantile(level, len(s) - 1) * s.std(ddof=1) / math.sqrt(len(s))
                   if len(s) > 1 else math.nan)
    return xs, mean, half, n


def _column(data, name, what):
    cols = data["cols"]
    if name in cols:
        return cols[name]
    raise SweepError(f"no {what} '{name}' in the sweep (available: {', '.join(sorted(cols))})")


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


def main(argv=None):
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
        out = a.output or os.path.join(os.path.dirname(a.sweep) or ".",
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
