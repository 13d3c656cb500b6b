#!/usr/bin/env python3
"""validate -- setm's validation suite: experiments compared with theory and published results.

    python3 analysis/validate.py [--quick] [-o DIR] [--setm BIN] [--jobs N]
    make validate          # the full suite, figures and table in out/validate/
    make validate-quick    # the CI subset (under two minutes on two cores)

Each check runs ``setm run`` on a purpose-built scenario (``scenarios/validate/*.ini``) with
``--set`` overrides, reads the HDF5 files with h5py and computes every statistic here, from the
definitions: nothing is taken from the simulator's own summaries where the quantity can be
recomputed from the tables.  The suite prints one table (quantity, measured, expected,
tolerance, PASS/FAIL), writes it to DIR/validate.txt, draws one PNG per check into DIR and
exits 1 when any row fails (2 on bad usage or a run that cannot be made).

Checks (see the README's "Validation" section for the models and the measured table):

  pow       block intervals and attempts at fixed difficulty: KS tests against the exponential
            and geometric laws with the exact mean from the chain's compact target (nBits).
  race      finder shares proportional to hash shares (chi-square) and successive finders
            independent (chi-square on the transition table; previous-finder-finds-next rate
            against sum of squared shares), for 2, 4 and 8 nodes with a 0.2 s propagation delay.
  stale     stale rate against an exact reference model of the race (an independent event
            simulation here) for delay/interval 0.02 .. 0.5, and Decker & Wattenhofer's
            first-order relation between propagation delay and forks at small delay/interval.
  zi        allocative efficiency of zero-intelligence traders in the continuous double auction
            against Gode & Sunder (1993): ZI-C within their 97-99 %, ZI-U markedly lower and
            equal to its analytic value; prices outside a trader's limits only for ZI-U.
  book      pay_as_clear realises the maximum surplus of the submitted book; every price
            within both parties' limits.
  coins     coins conserved: every main-chain transaction replayed from its encoding.
  determinism  the same tip hash and trades on every backend and thread count.

The statistics functions (compact_target, ks_*, chi-square, race_reference, max_surplus, ...)
are plain functions of arrays so analysis/tests/test_validate.py can test them on synthetic data
with known answers.
"""

import argparse
import concurrent.futures
import hashlib
import math
import os
import struct
import subprocess
import sys
import heapq

import h5py
import numpy as np
from scipy import stats

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCEN = os.path.join(ROOT, "scenarios", "validate")
ALPHA = 1e-3  # significance of every hypothesis test: a correct simulator fails a row 1 in 1000

# ---- statistics from the definitions -------------------------------------------------------


def compact_target(bits):
    """The 256-bit target an nBits compact value encodes (Bitcoin's rule: mantissa = low 23 bits,
    exponent = high byte, target = mantissa * 256^(exponent - 3)).  Exact integer."""
    bits = int(bits)
    exp, mant = bits >> 24, bits & 0x007FFFFF
    if bits & 0x00800000:
        raise ValueError(f"nBits 0x{bits:08x}: negative target")
    return mant >> (8 * (3 - exp)) if exp <= 3 else mant << (8 * (exp - 3))


def success_probability(bits):
    """Probability that one nonce's SHA-256d, read as a 256-bit integer, is <= the target:
    (target + 1) / 2^256, exact as a float (the integer ratio is rounded once)."""
    t = compact_target(bits)
    return (t + 1) / float(2 ** 256)


def ks_exponential(x, mean):
    """Kolmogorov-Smirnov test of samples x against the exponential law of the given mean."""
    r = stats.kstest(np.asarray(x, float), "expon", args=(0, mean))
    return float(r.statistic), float(r.pvalue)


def ks_geometric(k, p):
    """KS test of counts k (1, 2, ...: trials up to and including the first success) against the
    geometric law with success probability p.  For a discrete law the KS p-value is
    conservative (it rejects less often than alpha), never liberal."""
    r = stats.kstest(np.asarray(k, float), lambda v: stats.geom.cdf(np.floor(v), p))
    return float(r.statistic), float(r.pvalue)


def mean_z(x, mean, sd):
    """z score of the sample mean of x against a population mean and standard deviation."""
    x = np.asarray(x, float)
    return float((x.mean() - mean) / (sd / math.sqrt(len(x))))


def share_chi2(finders, shares):
    """Chi-square goodness of fit of finder counts (node ids 0..n-1) to the hash shares."""
    shares = np.asarray(shares, float) / np.sum(shares)
    counts = np.bincount(np.asarray(finders, int), minlength=len(shares))
    r = stats.chisquare(counts, counts.sum() * shares)
    return counts, float(r.statistic), float(r.pvalue)


def transition_table(finders, n):
    """n x n table of (finder of block k, finder of block k+1) counts, blocks in found order."""
    f = np.asarray(finders, int)
    t = np.zeros((n, n), int)
    np.add.at(t, (f[:-1], f[1:]), 1)
    return t


def independence_chi2(table):
    """Chi-square test of independence of rows and columns of a contingency table (rows or
    columns that are all zero dropped)."""
    t = np.asarray(table)
    t = t[t.sum(1) > 0][:, t.sum(0) > 0]
    if t.shape[0] < 2 or t.shape[1] < 2:
        return 0.0, 1.0
    r = stats.chi2_contingency(t, correction=False)
    return float(r.statistic), float(r.pvalue)


def repeat_rate(finders, shares):
    """Share of consecutive blocks found by the same node, the rate independence predicts
    (sum of squared hash shares), and the z score of the difference (binomial sd)."""
    f = np.asarray(finders, int)
    s = np.asarray(shares, float) / np.sum(shares)
    same = np.mean(f[1:] == f[:-1])
    exp = float(np.sum(s * s))
    z = (same - exp) / math.sqrt(exp * (1 - exp) / (len(f) - 1))
    return float(same), exp, float(z)


def dw_fork_rate(delay, interval, nodes):
    """Decker & Wattenhofer (2013): a block is forked when another miner finds a block before
    hearing of it, Pr = 1 - exp(-(1/T) * integral of the uninformed share of hash power over
    time).  With a fixed delay and n equal nodes the finder knows at once and the others after
    delay: integral = delay * (n - 1) / n."""
    return 1.0 - math.exp(-delay * (nodes - 1) / nodes / interval)


def dw_stale_rate(delay, interval, nodes):
    """The first-order stale share of found blocks: r forks per main-chain height r/(1+r)."""
    r = dw_fork_rate(delay, interval, nodes)
    return r / (1 + r)


def race_reference(nodes, delay, interval, blocks, seed, shares=None):
    """An independent event simulation of the race setm models: nodes with Poisson block
    finding at rate share/interval, each mining on its own tip; a found block reaches every
    other node exactly `delay` later; a node adopts a received block when it is higher than its
    tip (first seen wins ties); the main chain is the highest block found (earliest wins ties)
    traced back.  Returns (stale share of found blocks, blocks found).  The last 20 blocks are
    not counted (they could still be orphaned)."""
    rng = np.random.default_rng(seed)
    s = np.ones(nodes) / nodes if shares is None else np.asarray(shares, float) / np.sum(shares)
    height = [0]          # block heights; block 0 is genesis
    parent = [-1]
    tip = [0] * nodes
    pending = []          # (arrival time, seq, node, block)
    t, seq = 0.0, 0
    for _ in range(blocks):
        t += rng.exponential(interval)
        while pending and pending[0][0] <= t:
            _, _, nd, b = heapq.heappop(pending)
            if height[b] > height[tip[nd]]:
                tip[nd] = b
        w = int(rng.choice(nodes, p=s))
        b = len(height)
        height.append(height[tip[w]] + 1)
        parent.append(tip[w])
        tip[w] = b
        for nd in range(nodes):
            if nd != w:
                seq += 1
                heapq.heappush(pending, (t + delay, seq, nd, b))
    h = np.asarray(height)
    best = int(np.argmax(h))  # argmax: the first (earliest found) of the highest
    main = np.zeros(len(h), bool)
    while best >= 0:
        main[best] = True
        best = parent[best]
    found = np.arange(1, len(h) - 20)
    return float(np.mean(~main[found])), len(found)


def max_surplus(bid_q, bid_p, ask_q, ask_p):
    """Maximum gains from trade of a book (divisible quantities): buyers in descending price,
    sellers ascending, matched greedily while bid > ask.  Units: q x p."""
    bo, ao = np.argsort(-np.asarray(bid_p), kind="stable"), np.argsort(ask_p, kind="stable")
    bq, bp = list(np.asarray(bid_q, float)[bo]), list(np.asarray(bid_p, float)[bo])
    aq, ap = list(np.asarray(ask_q, float)[ao]), list(np.asarray(ask_p, float)[ao])
    i = j = 0
    total = 0.0
    while i < len(bq) and j < len(aq) and bp[i] > ap[j]:
        q = min(bq[i], aq[j])
        total += q * (bp[i] - ap[j])
        bq[i] -= q
        aq[j] -= q
        if bq[i] <= 0:
            i += 1
        if aq[j] <= 0:
            j += 1
    return total


# ---- running setm --------------------------------------------------------------------------


class Runner:
    def __init__(self, setm, outdir, jobs):
        self.setm, self.dir, self.jobs = setm, os.path.join(outdir, "runs"), jobs
        os.makedirs(self.dir, exist_ok=True)

    def run_many(self, specs):
        """specs: list of (name, scenario file, [k=v...], env dict or None); returns paths."""
        def one(spec):
            name, scen, sets, env = spec
            out = os.path.join(self.dir, name + ".h5")
            if os.path.exists(out):
                os.remove(out)  # a file of ours from an earlier invocation of the suite
            cmd = [self.setm, "run", os.path.join(SCEN, scen) if not os.path.isabs(scen) else scen,
                   "-o", out, "--quiet"]
            for kv in ["mine.backend=cpu"] + list(sets):  # later --set wins
                cmd += ["--set", kv]
            e = dict(os.environ)
            e.update(env or {})
            r = subprocess.run(cmd, env=e, capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError(f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr.strip()}")
            return out
        with concurrent.futures.ThreadPoolExecutor(self.jobs) as ex:
            return list(ex.map(one, specs))


def table(f, name):
    g = f[name]
    return {k: g[k][()] for k in g}


def sdec(a):
    return np.char.decode(np.asarray(a), "utf-8") if np.asarray(a).dtype.kind == "S" else np.asarray(a)


class Report:
    def __init__(self):
        self.rows = []

    def add(self, check, quantity, measured, expected, tolerance, ok):
        self.rows.append((check, quantity, measured, expected, tolerance, bool(ok)))

    def text(self):
        head = ("check", "quantity", "measured", "expected", "tolerance", "result")
        lines = [head] + [(c, q, m, e, t, "PASS" if ok else "FAIL")
                          for c, q, m, e, t, ok in self.rows]
        w = [max(len(str(r[i])) for r in lines) for i in range(6)]
        out = ["  ".join(str(r[i]).ljust(w[i]) for i in range(6)).rstrip() for r in lines]
        out.insert(1, "  ".join("-" * w[i] for i in range(6)))
        n_fail = sum(not r[5] for r in self.rows)
        out.append(f"\n{len(self.rows)} rows, {len(self.rows) - n_fail} PASS, {n_fail} FAIL")
        return "\n".join(out)

    def markdown(self):
        out = ["| check | quantity | measured | expected | tolerance | result |",
               "|---|---|---|---|---|---|"]
        for c, q, m, e, t, ok in self.rows:
            out.append(f"| {c} | {q} | {m} | {e} | {t} | {'PASS' if ok else '**FAIL**'} |")
        return "\n".join(out)


def plt_module():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def fmt_p(p):
    return f"p={p:.3g}"


# ---- the checks ------------------------------------------------------------------------------


def check_pow(R, rep, outdir, quick):
    """Block intervals and attempts of one node at fixed difficulty (no forks possible)."""
    blocks = 1000 if quick else 5000
    rate = 400.0  # H/s: set explicitly, so the expected interval does not use setm's arithmetic
    bits_zero = 12
    days = blocks * (2 ** bits_zero / rate) / 86400 * 1.05
    (path,) = R.run_many([("pow", "chain.ini",
                           ["chain.nodes=1", f"chain.difficulty_bits={bits_zero}",
                            f"chain.hash_rate={rate}", f"sim.days={days:.6f}"], None)])
    with h5py.File(path) as f:
        b = table(f, "blocks")
    order = np.argsort(b["height"])
    h, t, bits, att = b["height"][order], b["t_found"][order], b["bits"][order], b["race_attempts"][order]
    assert np.all(np.diff(h) == 1) and not b["stale"].any()
    if len(set(bits.tolist())) != 1:
        raise RuntimeError("pow: difficulty changed during a fixed-difficulty run")
    p = success_probability(bits[0])
    ideal = 2.0 ** (256 - bits_zero)  # the target 2^(256-bits) - 1 the compact form approximates
    trunc = (compact_target(bits[0]) + 1) / ideal
    mean_att = 1 / p
    mean_t = 1 / (p * rate)
    iv, k = np.diff(t), att[1:].astype(float)
    D1, p1 = ks_exponential(iv, mean_t)
    D2, p2 = ks_geometric(k, p)
    z1 = mean_z(iv, mean_t, mean_t)
    z2 = mean_z(k, mean_att, math.sqrt(1 - p) / p)
    n = len(iv)
    rep.add("pow", f"nBits 0x{int(bits[0]):08x}: (target+1)/2^{256 - bits_zero}",
            f"{trunc:.8f}", "< 1 (compact form truncates)", "exact", trunc <= 1)
    rep.add("pow", f"interval KS vs Exp(mean {mean_t:.4f} s), n={n}", f"D={D1:.4f} {fmt_p(p1)}",
            "p >= 0.001", "alpha 0.001", p1 >= ALPHA)
    rep.add("pow", "mean interval (s)", f"{iv.mean():.3f}", f"{mean_t:.3f}", "4 s.e.", abs(z1) < 4)
    rep.add("pow", f"attempts KS vs Geom(p = {p:.6g})", f"D={D2:.4f} {fmt_p(p2)}", "p >= 0.001",
            "alpha 0.001 (conservative)", p2 >= ALPHA)
    rep.add("pow", "mean attempts", f"{k.mean():.1f}", f"{mean_att:.1f}", "4 s.e.", abs(z2) < 4)
    plt = plt_module()
    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    xs = np.sort(iv)
    ax[0].plot(xs, np.arange(1, n + 1) / n, label="setm")
    ax[0].plot(xs, 1 - np.exp(-xs / mean_t), "--", label=f"Exp(mean {mean_t:.2f} s)")
    ax[0].set(xlabel="block interval (s)", ylabel="CDF", title=f"intervals, KS {fmt_p(p1)}")
    ax[0].legend()
    ks = np.sort(k)
    ax[1].plot(ks, np.arange(1, n + 1) / n, label="setm")
    ax[1].plot(ks, stats.geom.cdf(ks, p), "--", label=f"Geom(p={p:.3g})")
    ax[1].set(xlabel="attempts per block", ylabel="CDF", title=f"attempts, KS {fmt_p(p2)}")
    ax[1].legend()
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, "pow.png"), dpi=110)
    plt.close(fig)


RACE_CASES = [(2, None), (4, None), (8, None), (4, (0.4, 0.3, 0.2, 0.1))]


def check_race(R, rep, outdir, quick):
    """Finders of all found blocks against hash shares, and successive finders independent."""
    blocks = 1500 if quick else 5000
    interval, delay = 10.0, 0.2
    days = blocks * interval / 86400 * 1.05
    cases = RACE_CASES[:3] if quick else RACE_CASES
    specs = []
    for n, shares in cases:
        sets = [f"chain.nodes={n}", f"chain.propagation_min_s={delay}",
                f"chain.block_interval_s={interval}", f"sim.days={days:.6f}"]
        if shares:
            sets.append("chain.hash_shares=" + ",".join(str(s) for s in shares))
        specs.append((f"race_{n}" + ("_unequal" if shares else ""), "chain.ini", sets, None))
    paths = R.run_many(specs)
    plt = plt_module()
    fig, axes = plt.subplots(1, len(cases), figsize=(4 * len(cases), 3.6), squeeze=False)
    for (n, shares), path, ax in zip(cases, paths, axes[0]):
        with h5py.File(path) as f:
            b = table(f, "blocks")
        s = np.ones(n) / n if shares is None else np.asarray(shares) / np.sum(shares)
        found = b["miner"] >= 0
        order = np.argsort(b["t_found"][found], kind="stable")
        fin = b["miner"][found][order]
        label = f"{n} nodes" + (" " + "/".join(str(x) for x in shares) if shares else "")
        counts, c2, pc = share_chi2(fin, s)
        rep.add("race", f"{label}: finder shares (all {len(fin)} found) vs hash shares",
                f"chi2={c2:.1f} {fmt_p(pc)}", "p >= 0.001", "alpha 0.001", pc >= ALPHA)
        if shares is None:
            main = b["miner"][found & (b["stale"] == 0)]
            cm, c2m, pm = share_chi2(main, s)
            rep.add("race", f"{label}: main-chain shares " +
                    f"{cm.min() / cm.sum():.3f}..{cm.max() / cm.sum():.3f}",
                    f"chi2={c2m:.1f} {fmt_p(pm)}", f"equal ({1 / n:.3f})", "alpha 0.001",
                    pm >= ALPHA)
        same, exp, z = repeat_rate(fin, s)
        rep.add("race", f"{label}: previous finder finds next", f"{same:.4f}", f"{exp:.4f}",
                "4 s.e.", abs(z) < 4)
        c2t, pt = independence_chi2(transition_table(fin, n))
        rep.add("race", f"{label}: successive finders independent", f"chi2={c2t:.1f} {fmt_p(pt)}",
                "p >= 0.001", "alpha 0.001", pt >= ALPHA)
        x = np.arange(n)
        ax.bar(x - 0.2, counts / counts.sum(), 0.4, label="all found")
        if shares is None:
            ax.bar(x + 0.2, cm / cm.sum(), 0.4, label="main chain")
        ax.plot(x, s, "k_", markersize=20, label="hash share")
        ax.set(title=f"{label}\nrepeat {same:.3f} (indep. {exp:.3f})", xlabel="node",
               ylabel="share of blocks")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, "race.png"), dpi=110)
    plt.close(fig)


def check_stale(R, rep, outdir, quick):
    """Stale share of found blocks for 4 equal nodes, fixed delay 0.2 s, interval T varied so
    delay/T runs from 0.02 to 0.5."""
    n, delay = 4, 0.2
    ratios = [0.05, 0.2, 0.5] if quick else [0.02, 0.05, 0.1, 0.2, 0.35, 0.5]
    blocks = 2000 if quick else 6000
    specs = []
    for x in ratios:
        T = delay / x
        days = blocks * T / 86400 * 1.05
        specs.append((f"stale_{x:g}", "chain.ini",
                      [f"chain.nodes={n}", f"chain.propagation_min_s={delay}",
                       f"chain.block_interval_s={T:g}", f"sim.days={days:.6f}"], None))
    paths = R.run_many(specs)
    meas, ref, dw, ses = [], [], [], []
    for x, path in zip(ratios, paths):
        T = delay / x
        with h5py.File(path) as f:
            b = table(f, "blocks")
        found = b["miner"] >= 0
        # drop the last 20 found blocks: a run ends with its tip race undecided
        tf = np.sort(b["t_found"][found])
        keep = found & (b["t_found"] < tf[-20])
        st = float(np.mean(b["stale"][keep] == 1))
        m = int(keep.sum())
        r_ref, m_ref = race_reference(n, delay, T, 20 * blocks, seed=int(x * 1000) + 7)
        se = math.sqrt(r_ref * (1 - r_ref) / m + r_ref * (1 - r_ref) / m_ref)
        rep.add("stale", f"stale share, delay/T = {x:g} ({m} blocks)", f"{st:.4f}",
                f"{r_ref:.4f} (reference)", f"4 s.e. = {4 * se:.4f}", abs(st - r_ref) < 4 * se)
        d = dw_stale_rate(delay, T, n)
        if x <= 0.1:
            tol = 4 * math.sqrt(d * (1 - d) / m) + d * d  # neglected: second-order terms ~ r^2
            rep.add("stale", f"Decker-Wattenhofer, delay/T = {x:g}", f"{st:.4f}", f"{d:.4f}",
                    f"4 s.e. + r^2 = {tol:.4f}", abs(st - d) < tol)
        meas.append(st)
        ref.append(r_ref)
        dw.append(d)
        ses.append(math.sqrt(max(st * (1 - st), 1e-9) / m))
    plt = plt_module()
    fig, ax = plt.subplots(figsize=(6, 4.2))
    xx = np.linspace(0.005, max(ratios), 100)
    ax.plot(xx, [dw_stale_rate(delay, delay / v, n) for v in xx], "--",
            label="Decker-Wattenhofer first order: r/(1+r)")
    ax.plot(ratios, ref, "s", mfc="none", label="reference race model")
    ax.errorbar(ratios, meas, yerr=2 * np.asarray(ses), fmt="o", label="setm (±2 s.e.)")
    ax.set(xlabel="propagation delay / block interval", ylabel="stale share of found blocks",
           title=f"{n} equal nodes, fixed delay {delay} s")
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, "stale.png"), dpi=110)
    plt.close(fig)


def slot_books(f):
    """Per slot: the book submitted at the slot's opening, from /agent_slots (role, quantity)
    and /agents (limits: a buyer's max_bid, a seller's min_bid)."""
    ag = table(f, "agents")
    s = table(f, "agent_slots")
    lim_b = dict(zip(ag["id"].tolist(), ag["max_bid"].tolist()))
    lim_s = dict(zip(ag["id"].tolist(), ag["min_bid"].tolist()))
    books = {}
    for slot, a, role, q in zip(s["slot"], s["agent"], s["role"], s["forecast_kwh"]):
        if role == 0:
            continue
        bk = books.setdefault(int(slot), ([], [], [], []))
        if role < 0:
            bk[0].append(abs(q))
            bk[1].append(lim_b[int(a)])
        else:
            bk[2].append(abs(q))
            bk[3].append(lim_s[int(a)])
    return books, ag


def realised_surplus(tr, ag, n_slots):
    """Per slot: sum of kWh x (buyer's max_bid - seller's min_bid) / 1000 (EUR), from the true
    limits, whatever price the trade was at."""
    vb = ag["max_bid"][np.searchsorted(ag["id"], tr["buyer"])]
    cs = ag["min_bid"][np.searchsorted(ag["id"], tr["seller"])]
    out = np.zeros(n_slots)
    np.add.at(out, tr["slot"].astype(int), tr["kwh"] * (vb - cs) / 1000.0)
    return out


def efficiency_of(path):
    with h5py.File(path) as f:
        books, ag = slot_books(f)
        tr = table(f, "trades")
        n_slots = len(f["slots/slot"])
    mx = np.zeros(n_slots)
    for sl, (bq, bp, aq, ap) in books.items():
        mx[sl] = max_surplus(bq, bp, aq, ap) / 1000.0
    real = realised_surplus(tr, ag, n_slots)
    ok = mx > 0
    per = real[ok] / mx[ok]
    vb = ag["max_bid"][np.searchsorted(ag["id"], tr["buyer"])]
    cs = ag["min_bid"][np.searchsorted(ag["id"], tr["seller"])]
    outside = np.mean((tr["price"] > vb + 1e-9) | (tr["price"] < cs - 1e-9)) if len(tr["price"]) else 0.0
    return real.sum() / mx.sum(), per, outside, mx, real, tr, ag


def check_zi(R, rep, outdir, quick):
    """ZI-C and ZI-U in the continuous double auction on the Gode & Sunder staircase market."""
    rounds = 100 if quick else 200
    paths = R.run_many([
        ("zi_c", "zi_market.ini", ["market.strategy=zic", f"market.rounds_per_slot={rounds}",
                                   "output.agent_slots=true"], None),
        ("zi_u", "zi_market.ini", ["market.strategy=zi_u", f"market.rounds_per_slot={rounds}",
                                   "output.agent_slots=true"], None)])
    ec, perc, outc, mxc, _, trc, ag = efficiency_of(paths[0])
    eu, peru, outu, mxu, _, tru, _ = efficiency_of(paths[1])
    sec = perc.std(ddof=1) / math.sqrt(len(perc))
    rep.add("zi", f"ZI-C efficiency, cda, {rounds} rounds/slot ({len(perc)} slots)",
            f"{ec:.4f} (s.e. {sec:.4f})", "0.97-0.99 (Gode & Sunder 1993)", "3 s.e.",
            ec + 3 * sec >= 0.97 and ec - 3 * sec <= 0.99)
    # ZI-U: with equal unit counts on both sides and bids/asks uniform on the whole range, every
    # unit eventually trades, so the surplus is sum(values) - sum(costs) of all traders.
    vals = ag["max_bid"][np.char.startswith(sdec(ag["name"]), "buyer")]
    costs = ag["min_bid"][np.char.startswith(sdec(ag["name"]), "seller")]
    max_unit = max_surplus(np.ones(len(vals)), vals, np.ones(len(costs)), costs)
    analytic = (vals.sum() - costs.sum()) / max_unit
    rep.add("zi", "ZI-U efficiency (every unit trades)", f"{eu:.4f}", f"{analytic:.4f} (analytic)",
            "0.02", abs(eu - analytic) < 0.02)
    rep.add("zi", "ZI-C minus ZI-U efficiency", f"{ec - eu:.4f}", "> 0.1 (markedly lower)", "-",
            ec - eu > 0.1)
    rep.add("zi", "ZI-C trades priced outside a party's limit", f"{outc:.4f}", "0", "exact",
            outc == 0)
    rep.add("zi", "ZI-U trades priced outside a party's limit", f"{outu:.4f}", "> 0 (may lose money)",
            "-", outu > 0)
    plt = plt_module()
    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    ax[0].hist([perc, peru], bins=np.linspace(min(peru.min(), perc.min()) - 0.01, 1.01, 30),
               label=[f"ZI-C ({ec:.3f})", f"ZI-U ({eu:.3f})"])
    ax[0].axvspan(0.97, 0.99, color="g", alpha=0.2, label="G&S ZI-C 97-99 %")
    ax[0].set(xlabel="slot efficiency", ylabel="slots", title="allocative efficiency per slot")
    ax[0].legend(fontsize=8)
    for tr, lab in ((trc, "ZI-C"), (tru, "ZI-U")):
        ax[1].plot(np.arange(len(tr["price"][:400])), tr["price"][:400], ".", ms=3, label=lab)
    ax[1].set(xlabel="trade (first 400)", ylabel="price (EUR/MWh)", title="trade prices")
    ax[1].legend()
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, "zi.png"), dpi=110)
    plt.close(fig)


def check_book(R, rep, outdir, quick):
    """pay_as_clear, fixed bids, one round: realised surplus = the book's maximum surplus."""
    sets = ["sim.days=0.5"] if quick else []
    (path,) = R.run_many([("book", "book.ini", sets, None)])
    e, per, outside, mx, real, tr, ag = efficiency_of(path)
    with h5py.File(path) as f:
        late = float(f["summary/messages_late"][()]) + float(f["summary/messages_lost"][()])
    diff = np.max(np.abs(real - mx))
    rep.add("book", "messages late or lost (the book is what was sent)", f"{late:g}", "0", "exact",
            late == 0)
    rep.add("book", f"pay_as_clear max abs(surplus - max surplus) over {len(mx)} slots (EUR)",
            f"{diff:.2e}", "0", "1e-9 x total", diff <= 1e-9 * max(mx.sum(), 1))
    rep.add("book", f"trades priced outside a party's limit ({len(tr['price'])} trades)",
            f"{outside:.4f}", "0", "exact", outside == 0)
    plt = plt_module()
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot(mx, real, ".")
    ax.plot([0, mx.max()], [0, mx.max()], "k--", lw=0.8)
    ax.set(xlabel="max surplus of the submitted book (EUR)", ylabel="realised surplus (EUR)",
           title="pay_as_clear, one round per slot")
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, "book.png"), dpi=110)
    plt.close(fig)


def decode_tx(enc):
    """Coin movements of one canonical transaction encoding (sim/chain/tx.h's layout):
    a list of (payer address, payee address, coins)."""
    kind = enc[1]
    if kind == 1:
        (price,) = struct.unpack_from("<d", enc, 10)
        seller = enc[34:54]
        (nb,) = struct.unpack_from("<H", enc, 86)
        out = []
        for i in range(nb):
            off = 88 + 60 * i
            (kwh,) = struct.unpack_from("<d", enc, off + 52)
            out.append((enc[off:off + 20], seller, int(round_half_away(price * kwh * 1000))))
        return out, price
    if kind == 2:
        (coins,) = struct.unpack_from("<q", enc, 90)
        return [(enc[18:38], enc[70:90], coins)], None
    raise ValueError(f"transaction kind {kind}")


def round_half_away(x):
    return math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)


def check_coins(R, rep, outdir, quick):
    """Replay every main-chain transaction: coins conserved, no wallet below zero, and each trade
    transaction's coins equal what its /trades rows say (price x kWh)."""
    sets = ["sim.days=0.5", "attacks.double_spend_rate=0.05", "chain.initial_coins=20000000"]
    (path,) = R.run_many([("coins", "book.ini", sets, None)])
    with h5py.File(path) as f:
        tx = table(f, "transactions")
        tr = table(f, "trades")
        n_agents = int(f["summary/agents"][()])
        ds = int(f["summary/chain_double_spends_detected"][()])
    init = 20000000
    main = tx["stale"] == 0
    enc_parts = {}
    for txid, part, enc, h, idx in zip(sdec(tx["txid"][main]), tx["part"][main],
                                       sdec(tx["encoding"][main]), tx["height"][main],
                                       tx["index"][main]):
        enc_parts.setdefault((int(h), int(idx), txid), {})[int(part)] = enc
    bal, neg, mismatch, moved, ntx = {}, 0, 0, 0, 0
    want = {}
    for g, p, q in zip(tr["group"], tr["price"], tr["kwh"]):
        want[int(g)] = want.get(int(g), 0) + round_half_away(p * q * 1000)
    for key in sorted(enc_parts):
        parts = enc_parts[key]
        enc = bytes.fromhex("".join(parts[i] for i in sorted(parts)))
        if hashlib.sha256(hashlib.sha256(enc).digest()).digest()[::-1].hex() != key[2]:
            mismatch += 1
            continue
        ntx += 1
        moves, price = decode_tx(enc)
        if enc[1] == 1:
            (ref,) = struct.unpack_from("<Q", enc, 2)
            if sum(c for _, _, c in moves) != want.get(int(ref), -1):
                mismatch += 1
        for payer, payee, c in moves:
            bal[payer] = bal.get(payer, init) - c
            bal[payee] = bal.get(payee, init) + c
            neg += bal[payer] < 0
            moved += c
    total = sum(bal.values()) + (n_agents - len(bal)) * init
    rep.add("coins", f"sum of wallets after {ntx} main-chain txs (coins)", f"{total}",
            f"{n_agents * init} (= agents x initial)", "exact", total == n_agents * init)
    rep.add("coins", "overspends the chain rejected (attacks.double_spend_rate = 0.05)", f"{ds}",
            "> 0 (the replay below is tested)", "-", ds > 0)
    rep.add("coins", "wallets below zero during the replay", f"{neg}", "0", "exact", neg == 0)
    rep.add("coins", "txs whose id or coins disagree with /trades", f"{mismatch}", "0", "exact",
            mismatch == 0)
    plt = plt_module()
    fig, ax = plt.subplots(figsize=(6, 4))
    v = np.array(sorted(bal.values())) - init
    ax.bar(np.arange(len(v)), v / 1e6)
    ax.set(xlabel="wallet (sorted)", ylabel="net change (EUR)",
           title=f"replayed wallets: sum of changes {sum(v)} coins")
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, "coins.png"), dpi=110)
    plt.close(fig)


def opencl_available(setm):
    r = subprocess.run([setm, "devices"], capture_output=True, text=True)
    return r.returncode == 0 and "device" in r.stdout.lower() and "no opencl" not in r.stdout.lower()


def check_determinism(R, rep, outdir, quick):
    """The same tip and trades with every backend, CPU path and thread count."""
    # from midnight to past noon, so the day's solar surplus is traded and /trades is not empty
    base = ["sim.days=0.6", "chain.difficulty_bits=12" if quick else "chain.difficulty_bits=14"]
    variants = [("cpu-portable x1", "cpu", 1, "portable"), ("cpu-portable x2", "cpu", 2, "portable"),
                ("cpu-sha-ni x1", "cpu", 1, "sha-ni"), ("cpu-sha-ni x2", "cpu", 2, "sha-ni")]
    if opencl_available(R.setm):
        variants.append(("opencl", "opencl", 0, None))
    specs = []
    for i, (lab, be, th, cp) in enumerate(variants):
        sets = base + [f"mine.backend={be}", f"mine.threads={th}"]
        specs.append((f"det_{i}", os.path.join(ROOT, "scenarios", "case_study.ini"), sets,
                      {"SETM_CPU_PATH": cp} if cp else {"SETM_CPU_PATH": ""}))
    paths = R.run_many(specs)
    tips, digests, backends = [], [], []
    for p in paths:
        with h5py.File(p) as f:
            tips.append(str(f.attrs["chain_tip"]))
            backends.append(str(f.attrs["mine_backend"]))
            tr = table(f, "trades")
            h = hashlib.sha256()
            for k in ("seller", "buyer", "kwh", "price", "t_agree", "height"):
                h.update(np.ascontiguousarray(tr[k]).tobytes())
            digests.append(h.hexdigest()[:16])
            if len(tr["price"]) == 0:
                raise RuntimeError(f"{p}: no trades to compare")
    for (lab, *_), tip, dg, be in zip(variants, tips, digests, backends):
        rep.add("determinism", f"{lab} (ran on {be}): tip, trades digest",
                f"{tip[:16]}.. {dg}", f"{tips[0][:16]}.. {digests[0]}", "identical",
                tip == tips[0] and dg == digests[0] and be.startswith(lab.split()[0]))
    plt = plt_module()
    fig, ax = plt.subplots(figsize=(7, 0.5 + 0.4 * len(variants)))
    ax.axis("off")
    ax.table(cellText=[[v[0], b, t[:24] + "..", d] for v, b, t, d in
                       zip(variants, backends, tips, digests)],
             colLabels=["variant", "backend", "chain tip", "trades digest"], loc="center")
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, "determinism.png"), dpi=110)
    plt.close(fig)


CHECKS = {"pow": check_pow, "race": check_race, "stale": check_stale, "zi": check_zi,
          "book": check_book, "coins": check_coins, "determinism": check_determinism}
QUICK = ["pow", "race", "zi", "book", "coins", "determinism", "stale"]


def main(argv=None):
    ap = argparse.ArgumentParser(prog="setm validate", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="the CI subset (smaller samples)")
    ap.add_argument("-o", "--out", default=os.path.join("out", "validate"),
                    help="folder for runs, figures and validate.txt (default out/validate)")
    ap.add_argument("--setm", default=os.environ.get("SETM_BIN", os.path.join(ROOT, "bin", "setm")),
                    help="simulator binary (default $SETM_BIN or bin/setm)")
    ap.add_argument("--only", action="append", choices=sorted(CHECKS),
                    help="run only this check (repeatable)")
    ap.add_argument("-j", "--jobs", type=int, default=2, help="runs in parallel (default 2)")
    a = ap.parse_args(argv)
    if not os.access(a.setm, os.X_OK):
        print(f"setm validate: {a.setm}: not an executable simulator (build with make)",
              file=sys.stderr)
        return 2
    if a.jobs < 1:
        print(f"setm validate: --jobs {a.jobs}: must be at least 1", file=sys.stderr)
        return 2
    if os.path.exists(a.out) and not os.path.isdir(a.out):
        print(f"setm validate: -o {a.out}: exists and is not a folder", file=sys.stderr)
        return 2
    os.makedirs(a.out, exist_ok=True)
    R = Runner(os.path.abspath(a.setm), a.out, a.jobs)
    rep = Report()
    names = a.only or (QUICK if a.quick else list(CHECKS))
    for name in names:
        try:
            CHECKS[name](R, rep, a.out, a.quick)
        except RuntimeError as ex:
            print(f"setm validate: {name}: {ex}", file=sys.stderr)
            rep.add(name, "the check's runs", "failed", "ran", "-", False)
        except KeyboardInterrupt:
            # Ctrl-C reached the setm children too (same process group): they stop between
            # slots; report what was measured so far and fail
            print(f"setm validate: interrupted during {name}", file=sys.stderr)
            rep.add(name, "the check's runs", "interrupted", "ran", "-", False)
            break
        print(f"setm validate: {name} done", file=sys.stderr, flush=True)
    text = rep.text()
    print(text)
    with open(os.path.join(a.out, "validate.txt"), "w") as fh:
        fh.write(text + "\n")
    with open(os.path.join(a.out, "validate.md"), "w") as fh:
        fh.write(rep.markdown() + "\n")
    return 1 if any(not r[5] for r in rep.rows) else 0


if __name__ == "__main__":
    sys.exit(main())
