"""setm_stats -- the statistics every analysis figure and table uses: Student-t confidence
intervals of a mean across repetitions (seeds), pooled by the value of a swept parameter.

    xs, mean, half, n = setm_stats.aggregate(x, y, level=0.95)   # mean +- half per distinct x
    setm_stats.t_quantile(0.95, df)                              # two-sided Student t quantile

The interval is mean +- t(level, n-1) * sd / sqrt(n) (sample sd, ddof=1); NaN when n < 2.
"""

import math

import numpy as np

__all__ = ["t_quantile", "aggregate"]


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
