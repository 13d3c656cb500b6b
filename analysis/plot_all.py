#!/usr/bin/env python3
"""Every run plot of analysis/ for one run: prices, latency, blocks, energy, attacks.

usage: python3 analysis/plot_all.py RUN.h5 [-o DIR] [--only prices,latency,...] [--suffix S]

--suffix S names the files NAME_S.png (two runs into one folder).  A plot that fails is
reported and the others still drawn; exit status 1 if any failed (a run without /blocks is not
a failure: plot_blocks draws a note instead).
"""

import argparse
import os
import sys
import traceback

import setm_h5
import plot_attacks
import plot_blocks
import plot_energy
import plot_latency
import plot_prices

PLOTS = {"prices": plot_prices, "latency": plot_latency, "blocks": plot_blocks,
         "energy": plot_energy, "attacks": plot_attacks}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("run")
    p.add_argument("-o", "--outdir", default="out/plots")
    p.add_argument("--only", default=",".join(PLOTS), help="comma-separated subset of "
                   + ", ".join(PLOTS))
    p.add_argument("--suffix", default="", help="file names NAME_SUFFIX.png")
    a = p.parse_args(argv)
    try:
        run = setm_h5.open_run(a.run)
    except setm_h5.SetmH5Error as exc:
        print(f"plot_all: {exc}", file=sys.stderr)
        return 1
    failed = 0
    for name in [n.strip() for n in a.only.split(",") if n.strip()]:
        if name not in PLOTS:
            print(f"plot_all: unknown plot {name!r} (known: {', '.join(PLOTS)})", file=sys.stderr)
            return 2
        try:
            for path in PLOTS[name].plot(run, a.outdir):
                if a.suffix:
                    root, ext = os.path.splitext(path)
                    os.replace(path, f"{root}_{a.suffix}{ext}")
                    path = f"{root}_{a.suffix}{ext}"
                print(path)
        except Exception:  # one broken plot must not hide the others
            failed += 1
            print(f"plot_all: {name} failed on {a.run}:", file=sys.stderr)
            traceback.print_exc()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
