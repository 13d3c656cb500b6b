"""plotkit -- what every analysis/plot_*.py script shares: the command line
(``RUN.h5 -o DIR``), loading the run, a headless matplotlib, and saving PNGs.

Each script defines ``plot(run, outdir) -> [paths]`` and calls ``plotkit.main(plot, __doc__)``.
"""

import argparse
import os
import sys

import matplotlib

matplotlib.use("Agg")  # files only, never a window; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402

import setm_h5  # noqa: E402

DPI = int(os.environ.get("SETM_PLOT_DPI", "110"))  # e.g. 80 for the committed copies


def title(run, what):
    """Figure title: what, then scenario name and seed."""
    return f"{what} — {run.name}, seed {run.attrs.get('seed', '?')}"


def save(fig, outdir, name):
    os.makedirs(outdir, exist_ok=True)
    path = os.path.join(outdir, name)
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path


def note_figure(run, outdir, name, what, message):
    """A figure holding only `message` (e.g. 'this run has no blocks'), so a missing table
    shows up in the plot folder instead of failing the batch."""
    fig, ax = plt.subplots(figsize=(7, 2.5))
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True, fontsize=11)
    ax.set_title(title(run, what))
    return save(fig, outdir, name)


def parse(doc, argv=None):
    p = argparse.ArgumentParser(description=(doc or "").strip().splitlines()[0])
    p.add_argument("run", help="a run file written by `setm run ... -o RUN.h5`")
    p.add_argument("-o", "--outdir", default="out/plots", help="folder for the PNGs "
                   "(default: out/plots)")
    return p.parse_args(argv)


def main(plot, doc, argv=None):
    """CLI wrapper: 0 when the PNGs were written, 1 with a one-line message on a bad file."""
    args = parse(doc, argv)
    try:
        run = setm_h5.open_run(args.run)
        if not run.complete:
            print(f"warning: {args.run}: root attribute complete != 1 (run did not finish)",
                  file=sys.stderr)
        paths = plot(run, args.outdir)
    except setm_h5.SetmH5Error as exc:
        print(f"{os.path.basename(sys.argv[0])}: {exc}", file=sys.stderr)
        return 1
    for p in paths:
        print(p)
    return 0
