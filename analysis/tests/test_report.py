"""`setm report`: one self-contained HTML page per run or sweep, checked as text and in a real
headless browser (Debian's chromium: `make deps` installs it).  The browser check is itself
tested on a page built to fail it (a blank figure, a script error, a missing image)."""

import base64
import io
import json
import os
import re
import shutil
import subprocess

import h5py
import numpy as np
import pytest
from matplotlib import image

from conftest import ROOT, setm_bin

WIDTH = 1200
FIGURES = ("prices", "latency", "blocks", "energy", "attacks")

# Appended to a copy of the page: after load, the place and state of every figure, as JSON.
PROBE = """<pre id="setm-probe"></pre><script>
window.addEventListener("load", function () {
  var out = {height: document.documentElement.scrollHeight, figures: []};
  document.querySelectorAll("figure").forEach(function (f) {
    var img = f.querySelector("img"), r = (img || f).getBoundingClientRect();
    out.figures.push({id: f.id, x: r.left + scrollX, y: r.top + scrollY, w: r.width,
                      h: r.height, loaded: !!img && img.complete && img.naturalWidth > 0});
  });
  document.getElementById("setm-probe").textContent = JSON.stringify(out);
});
</script>"""


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("no chromium on PATH: the report's browser test needs Debian's chromium "
                "(make deps installs it)")


def _browser(args, url):
    cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           "--force-device-scale-factor=1", "--enable-logging=stderr", "--v=0",
           "--virtual-time-budget=10000", *args, url]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    return p


def console_messages(stderr):
    """The page's console output (script errors, failed loads) from chromium's log."""
    return [ln for ln in stderr.splitlines() if ":CONSOLE" in ln or "Uncaught" in ln]


def browser_check(html_path, tmp_path):
    """Load the page in headless chromium: returns (figures, blank, console) where figures is
    the probe's list, blank the ids of figures whose screenshot region is (nearly) one colour or
    whose image did not load, and console the console lines of both loads."""
    html_path = os.path.abspath(html_path)
    text = open(html_path, encoding="utf-8").read()
    probe_path = tmp_path / "probe.html"
    probe_path.write_text(text.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    p = _browser(["--dump-dom", f"--window-size={WIDTH},2000"], f"file://{probe_path}")
    m = re.search(r'<pre id="setm-probe">(.*?)</pre>', p.stdout, re.S)
    assert m and m.group(1), f"the page did not load in chromium:\n{p.stderr[-2000:]}"
    info = json.loads(m.group(1).replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">"))
    console = console_messages(p.stderr)
    shot = tmp_path / "shot.png"
    height = min(int(info["height"]) + 10, 16000)
    q = _browser([f"--screenshot={shot}", f"--window-size={WIDTH},{height}"],
                 f"file://{html_path}")
    assert shot.exists(), f"chromium wrote no screenshot:\n{q.stderr[-2000:]}"
    console += console_messages(q.stderr)
    px = image.imread(str(shot))[..., :3]
    blank = []
    for fig in info["figures"]:
        x0, y0 = int(fig["x"]), int(fig["y"])
        x1, y1 = int(fig["x"] + fig["w"]), int(fig["y"] + fig["h"])
        region = px[y0:y1, x0:x1]
        # a drawn figure: more than 2 % of its pixels differ from its most common colour
        if not fig["loaded"] or region.size == 0:
            blank.append(fig["id"])
            continue
        flat = region.reshape(-1, 3)
        vals, counts = np.unique((flat * 255).round().astype(int), axis=0, return_counts=True)
        if 1 - counts.max() / len(flat) < 0.02:
            blank.append(fig["id"])
    return info["figures"], blank, console


def report(*args, env=None):
    return subprocess.run([setm_bin(), "report", *args], cwd=ROOT, capture_output=True,
                          text=True, env=env, timeout=900)


@pytest.fixture(scope="module")
def run_report(plain_run_file, tmp_path_factory):
    d = tmp_path_factory.mktemp("report")
    src = d / "cs.h5"
    shutil.copy(plain_run_file, src)
    p = report(str(src))
    assert p.returncode == 0, p.stdout + p.stderr
    out = d / "cs.html"  # default: beside the run, .h5 -> .html
    assert p.stdout.strip() == f"report: {out}"
    return str(src), str(out)


def test_run_report_is_self_contained(run_report):
    h5, out = run_report
    text = open(out, encoding="utf-8").read()
    # nothing fetched from elsewhere: every src is embedded data, no URL anywhere
    assert re.findall(r'src="(?!data:image/png;base64,)', text) == []
    assert "http://" not in text and "https://" not in text and "<link" not in text
    for name in FIGURES:
        m = re.search(rf'<figure id="fig-{name}">.*?base64,([A-Za-z0-9+/=]+)"', text, re.S)
        assert m, f"figure {name} missing"
        png = base64.b64decode(m.group(1))
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        assert image.imread(io.BytesIO(png)).shape[0] > 100


def test_run_report_content_matches_the_file(run_report):
    h5, out = run_report
    text = open(out, encoding="utf-8").read()
    with h5py.File(h5, "r") as f:
        name = f.attrs["scenario_name"]
        seed = int(f.attrs["seed"])
        trades = int(f["summary/trades"][()])
        scenario = f.attrs["scenario"]
    name = name.decode() if isinstance(name, bytes) else name
    scenario = scenario.decode() if isinstance(scenario, bytes) else scenario
    assert f"{name}, seed {seed}" in text
    assert re.search(rf"<td>trades</td><td class=\"num\">{trades}</td>", text)
    assert '<span class="ok" id="verify-status">verified</span>' in text
    # the resolved scenario, HTML-escaped, whole
    import html
    assert html.escape(scenario) in text
    v = subprocess.run([setm_bin(), "verify", h5], capture_output=True, text=True)
    assert v.returncode == 0 and html.escape(v.stdout.strip()) in text


def test_run_report_renders_in_chromium(run_report, tmp_path):
    _, out = run_report
    figures, blank, console = browser_check(out, tmp_path)
    assert sorted(f["id"] for f in figures) == sorted(f"fig-{n}" for n in FIGURES)
    assert blank == []
    assert console == []
    for f in figures:
        assert f["w"] > 300 and f["h"] > 150, f


def test_browser_check_catches_a_broken_page(tmp_path):
    """The check above can fail: a blank figure, a figure whose image is missing, and a script
    error are each reported."""
    from matplotlib import pyplot as plt
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1], [0, 1])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    drawn = base64.b64encode(buf.getvalue()).decode()
    white = io.BytesIO()
    image.imsave(white, np.ones((300, 400, 3)), format="png")
    blank = base64.b64encode(white.getvalue()).decode()
    page = tmp_path / "broken.html"
    page.write_text(
        "<!DOCTYPE html><html><body>"
        f'<figure id="fig-drawn"><img src="data:image/png;base64,{drawn}"></figure>'
        f'<figure id="fig-white"><img src="data:image/png;base64,{blank}"></figure>'
        '<figure id="fig-missing"><img src="nowhere.png" width="400" height="300"></figure>'
        "<script>undefined_function();</script></body></html>")
    _, bad, console = browser_check(str(page), tmp_path)
    assert sorted(bad) == ["fig-missing", "fig-white"]
    assert any("undefined_function" in ln for ln in console)


def test_sweep_report(sweep_dir, tmp_path):
    d = tmp_path / "sw"
    shutil.copytree(sweep_dir, d)
    p = report(str(d))
    assert p.returncode == 0, p.stdout + p.stderr
    out = d / "report.html"
    assert p.stdout.strip() == f"report: {out}"
    text = out.read_text(encoding="utf-8")
    # four runs (2 values x 2 seeds), each verified
    assert text.count("<td>verified</td>") == 4
    assert "every finished run verified" in text
    # a figure for each /summary metric that varies across the runs
    with h5py.File(d / "sweep.h5", "r") as f:
        metrics = []
        for k, ds in f["summary"].items():
            if ds.attrs.get("CLASS", b"") == b"DIMENSION_SCALE":
                continue
            y = ds[()][np.isfinite(ds[()])]
            if len(y) and y.min() != y.max():
                metrics.append(k)
            elif len(y):
                assert f"<td>{k}</td>" in text  # listed as constant
    for m in ("trades", "mean_price"):
        assert m in metrics and f'id="fig-{m}"' in text
    figures, blank, console = browser_check(str(out), tmp_path)
    assert len(figures) == len(metrics)
    assert blank == [] and console == []


def test_report_replaces_its_own_page_never_a_user_file(run_report, tmp_path):
    h5, out = run_report
    before = os.path.getmtime(out)
    p = report(h5)  # its own earlier report: replaced
    assert p.returncode == 0 and os.path.getmtime(out) >= before
    mine = tmp_path / "notes.html"
    mine.write_text("my notes")
    p = report(h5, "-o", str(mine))
    assert p.returncode == 2
    assert "exists and is not a setm report" in p.stderr
    assert mine.read_text() == "my notes"


def test_report_bad_input_exit_2_nothing_written(tmp_path):
    p = report(str(tmp_path / "none.h5"))
    assert p.returncode == 2 and "no such file" in p.stderr
    junk = tmp_path / "junk.h5"
    junk.write_text("not hdf5")
    p = report(str(junk))
    assert p.returncode == 2 and "junk.h5" in p.stderr
    assert sorted(os.listdir(tmp_path)) == ["junk.h5"]


def test_report_without_python_environment_says_what_to_do(plain_run_file, tmp_path):
    env = dict(os.environ, SETM_PYTHON=str(tmp_path / "no-python"))
    p = report(plain_run_file, env=env)
    assert p.returncode == 2
    assert "make venv" in p.stderr and "no-python" in p.stderr


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_report_stops_within_a_second_leaving_nothing(plain_run_file, tmp_path, how):
    """Ctrl-C (SIGINT to the whole foreground group) and SIGTERM (to the report process alone)
    both end the report within a second, whatever C call its work is inside, and leave no page,
    temporary file, scratch folder or process behind."""
    import signal
    import time
    work = tmp_path / "work"
    scratch = tmp_path / "tmp"
    work.mkdir()
    scratch.mkdir()
    src = work / "r.h5"
    shutil.copy(plain_run_file, src)
    env = dict(os.environ, TMPDIR=str(scratch))
    # A terminal's foreground job takes SIGINT at its default action; a test run started in the
    # background (nohup, `cmd &` in a script) would hand SIGINT down ignored, and Python keeps an
    # ignored SIGINT ignored, so the Ctrl-C case would test nothing: restore the default first.
    p = subprocess.Popen([setm_bin(), "report", str(src)], cwd=ROOT, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True, env=env,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    # Stop it inside its work: the supervisor makes its scratch folder just before it forks the
    # worker, and the work takes about 3 s on an idle machine, so 0.5 s after the folder appears
    # the worker is inside verify or the figures.  (A fixed 3 s from the start raced the end of
    # the report once the chain's hashing used SHA-NI; a fixed 1 s could fall before the
    # interpreter had started, on a loaded machine.)
    deadline = time.monotonic() + 30
    while not os.listdir(scratch) and p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.5)
    assert p.poll() is None, "the report finished before the stop request: test cannot tell"
    t0 = time.monotonic()
    if how == "ctrl-c":
        os.killpg(p.pid, signal.SIGINT)
    else:
        p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=30)
    assert time.monotonic() - t0 < 1.0
    assert p.returncode == 130, err
    assert "interrupted" in err
    assert sorted(os.listdir(work)) == ["r.h5"]
    assert os.listdir(scratch) == []
    left = subprocess.run(["pgrep", "-f", str(src)], capture_output=True, text=True)
    assert left.stdout == "", "a process of the report outlived it"
