"""setm_plot -- `setm-plot`, the one entry point of the analysis package (installed into .venv
by `make venv`).  The first word says per-run or per-sweep; -o is always a folder and each
figure keeps its own file name in it.

    setm-plot run RUN.h5 [-o DIR] [--only prices,latency,blocks,energy,attacks] [--suffix S]
    setm-plot sweep DIR/sweep.h5 --figure metric -m METRIC [-p KEY] [-g KEY] [-o DIR] ...
    setm-plot sweep DIR/sweep.h5 --figure attacks|difficulty|price_convergence|scale [-o DIR]
    setm-plot report RUN.h5|SWEEP_DIR [-o FILE.html]

`run` draws prices.png, latency.png, blocks.png, energy.png, attacks.png (default folder
out/plots); `sweep --figure metric` draws METRIC_vs_KEY.png, the other figures NAME.png (default
folder: the sweep's).  Options after --figure NAME belong to that figure (`--figure metric
--help` lists them).  `report` writes the self-contained HTML page (as `setm report`).
Exit status: 0 ok, 1 a figure failed, 2 bad input.
"""

import argparse
import os
import sys

SWEEP_FIGURES = ("metric", "attacks", "difficulty", "price_convergence", "scale")


def _sweep(argv):
    ap = argparse.ArgumentParser(prog="setm-plot sweep", description="one figure of a sweep")
    ap.add_argument("sweep", help="DIR/sweep.h5 (or DIR) written by setm sweep")
    ap.add_argument("--figure", required=True, choices=SWEEP_FIGURES)
    ap.add_argument("-o", "--outdir", help="folder for the figure (default: the sweep's folder)")
    a, rest = ap.parse_known_args(argv)
    path = os.path.join(a.sweep, "sweep.h5") if os.path.isdir(a.sweep) else a.sweep
    if a.outdir:
        os.makedirs(a.outdir, exist_ok=True)
    if a.figure == "metric":
        import plot_sweep
        return plot_sweep.main([path, *rest], outdir=a.outdir)
    import importlib
    mod = importlib.import_module(a.figure)
    out = [] if not a.outdir else ["-o", os.path.join(a.outdir, f"{a.figure}.png")]
    return mod.main([path, *out, *rest])


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if argv else 2
    what, rest = argv[0], argv[1:]
    if what == "run":
        import plot_all
        return plot_all.main(rest)
    if what == "sweep":
        return _sweep(rest)
    if what == "report":
        import setm_report
        return setm_report.main(rest)
    print(f"setm-plot: unknown command {what!r}: the first word is run, sweep or report "
          "(setm-plot --help)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
