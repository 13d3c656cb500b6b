"""The README's shell commands stay true: every `setm` command line it shows names a real
subcommand and only options that command's --help lists; every analysis script or setm-plot
call it shows exists and accepts the options used; every scenario file it names exists; and the
cheap examples (the error message of a bad scenario, a short run that verify passes, the
`setm mine` example on Bitcoin block 125,552) give what the README says they give."""

import os
import re
import subprocess

import sys

from conftest import ROOT, setm_bin

SUBCOMMANDS = ("run", "sweep", "mine", "devices", "bench", "verify", "report", "validate")
OPTION = re.compile(r"(?<![\w/.=-])(--?[a-zA-Z][a-zA-Z0-9-]*)")


def readme():
    return open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()


def shell_lines():
    """Command lines shown in the README: indented code, ``` blocks (not python/ini) and
    `inline` spans, with a leading '$ ' removed and comments dropped."""
    text = readme()
    lines = []
    for lang, body in re.findall(r"```(\w*)\n(.*?)```", text, re.S):
        if lang in ("", "sh"):
            lines += body.splitlines()
    lines += [ln[4:] for ln in text.splitlines() if ln.startswith("    ") and not ln.startswith("     ")]
    lines += re.findall(r"`([^`\n]+)`", text)
    out = []
    for ln in lines:
        ln = ln.strip()
        if ln.startswith("$ "):
            ln = ln[2:]
        ln = re.sub(r"\s+#\s.*$", "", ln)
        if re.match(r"(bin/)?setm |\.venv/bin/", ln):
            out.append(ln)
    return out


def setm_commands():
    cmds = [ln for ln in shell_lines() if re.match(r"(bin/)?setm ", ln)]
    assert len(cmds) > 15, "the README's setm commands were not found"
    return cmds


def help_text(args):
    p = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, f"{' '.join(args)} exited {p.returncode}: {p.stderr}"
    return p.stdout + p.stderr


def test_readme_setm_commands_name_real_subcommands_and_options():
    helps = {}
    for line in setm_commands():
        words = line.split()
        sub = words[1]
        if sub.startswith("-") or sub.endswith(":"):     # setm --help; output lines
            continue
        assert sub in SUBCOMMANDS, f"README shows unknown subcommand: {line}"
        # a benchmark's options are listed by its own --help (`setm bench mine --help`)
        one = sub == "bench" and len(words) > 2 and re.fullmatch(r"[a-z]+", words[2])
        cmd = (sub, words[2]) if one else (sub,)
        if cmd not in helps:
            helps[cmd] = help_text([setm_bin(), *cmd, "--help"])
        # options of `bench mine`, `devices --check` etc. are listed by the command's --help
        for opt in OPTION.findall(" ".join(words[len(cmd) + 1:])):
            assert re.search(r"(?<![\w-])" + re.escape(opt) + r"(?![\w-])", helps[cmd]), \
                f"README: `{line}` uses {opt}, which `setm {' '.join(cmd)} --help` does not list"


def test_readme_scenario_files_exist():
    named = set()
    for line in shell_lines():
        named.update(re.findall(r"\b(scenarios/[\w/]+\.ini)\b", line))
    assert "scenarios/case_study.ini" in named
    for path in named:
        assert os.path.isfile(os.path.join(ROOT, path)), f"README names {path}, which is missing"


def test_readme_analysis_commands_exist_and_take_their_options():
    seen = 0
    for line in shell_lines():
        m = re.match(r"\.venv/bin/(python (analysis/\w+\.py)|setm-plot (run|sweep))(.*)", line)
        if not m:
            continue
        seen += 1
        if m.group(2):
            script = m.group(2)
            assert os.path.isfile(os.path.join(ROOT, script)), f"README names missing {script}"
            argv = [sys.executable, os.path.join(ROOT, script), "--help"]
        else:
            argv = [sys.executable, os.path.join(ROOT, "analysis", "setm_plot.py"), m.group(3), "--help"]
        text = help_text(argv)
        if "--figure metric" in line:  # options after `--figure metric` are plot_sweep.py's
            text += help_text([sys.executable, os.path.join(ROOT, "analysis", "plot_sweep.py"), "--help"])
        for opt in OPTION.findall(m.group(4)):
            assert re.search(r"(?<![\w-])" + re.escape(opt) + r"(?![\w-])", text), \
                f"README: `{line}` uses {opt}, which its --help does not list"
    assert seen >= 6, "the README's analysis commands were not found"


def test_readme_bad_scenario_error_is_what_setm_prints(tmp_path):
    text = readme()
    m = re.search(r"\$ setm run bad\.ini\n(setm run: bad\.ini:2: \[market\] (\w+) = '(\w+)'.*)\n", text)
    assert m, "the README's bad.ini example was not found"
    (tmp_path / "bad.ini").write_text(f"[market]\n{m.group(2)} = {m.group(3)}\n")
    p = subprocess.run([setm_bin(), "run", "bad.ini"], cwd=tmp_path, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 2
    assert p.stderr.strip() == m.group(1)
    assert not (tmp_path / "out").exists()                   # refused before any work


def test_readme_closest_key_hint_is_what_setm_prints(tmp_path):
    m = re.search(r"`(unknown key '(\w+)' in\s+\[(\w+)\]: did you mean '\w+'\?)`", readme())
    assert m, "the README's closest-key example was not found"
    p = subprocess.run([setm_bin(), "run", os.path.join(ROOT, "scenarios", "case_study.ini"),
                        "-o", str(tmp_path / "x.h5"), "--set", f"{m.group(3)}.{m.group(2)}=5"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2
    assert " ".join(m.group(1).split()) in p.stderr


def test_readme_short_run_then_verify(tmp_path):
    out = tmp_path / "case_study.h5"
    p = subprocess.run([setm_bin(), "run", "scenarios/case_study.ini", "--set", "sim.days=0.1",
                        "--backend", "cpu", "-o", str(out)], cwd=ROOT, capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    first = re.search(r"^setm run: scenarios/case_study\.ini \(.*\)$", readme(), re.M)
    assert first, "the README's run output was not found"
    assert first.group(0) in p.stdout.splitlines()
    assert f"output: {out}" in p.stdout
    p = subprocess.run([setm_bin(), "verify", str(out)], capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.startswith(f"setm verify: {out}: OK: ")


def test_readme_mine_example_finds_block_125552():
    line = next((ln for ln in setm_commands() if ln.startswith("setm mine --header 0100")), None)
    assert line, "the README's setm mine example was not found"
    p = subprocess.run([setm_bin()] + line.split()[1:] + ["--backend", "cpu"], capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    # Bitcoin block 125,552 (the header's own nonce and hash, published on its chain)
    assert re.search(r"^nonce\s+2504433986$", p.stdout, re.M)
    assert re.search(r"^hash\s+00000000000000001e8d6829a8a21adc5d38d0a473b144b6765798e61f98bd1d$",
                     p.stdout, re.M)
    assert re.search(r"^attempts\s+4433987$", p.stdout, re.M)       # 2504433986 - 2500000000 + 1


def test_readme_validation_checks_are_the_suites():
    """The checks the README's Validation section describes are the ones --only accepts."""
    text = help_text([setm_bin(), "validate", "--help"])
    choices = re.search(r"--only \{([\w,]+)\}", text)
    assert choices, text
    section = readme().split("\n## Validation\n", 1)[1].split("\n## ", 1)[0]
    described = re.findall(r"^- \*\*(\w+)\*\* — ", section, re.M)
    assert sorted(described) == sorted(choices.group(1).split(","))
