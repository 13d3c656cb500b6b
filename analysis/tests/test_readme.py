"""The README's Analysis section shows pandas and xarray usage: its python block runs, as
written, on a real run (out/case_study.h5) and a real sweep (out/my_sweep)."""

import os
import re
import shutil
import subprocess
import sys

from conftest import ANALYSIS, ROOT


def readme_block():
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    section = text[text.index("## Analysis (Python, Julia)"):]
    section = section[:section.index("\n## ", 5)]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 1, "the Analysis section should hold one python block"
    return blocks[0]


def test_readme_analysis_block_runs(plain_run_file, sweep_dir, tmp_path):
    code = readme_block()
    assert "pandas" in code or "dataframe" in code
    assert "xr.open_dataset" in code and "h5netcdf" in code
    os.makedirs(tmp_path / "out")
    shutil.copy(plain_run_file, tmp_path / "out" / "case_study.h5")
    shutil.copytree(sweep_dir, tmp_path / "out" / "my_sweep")
    (tmp_path / "block.py").write_text(code)
    env = dict(os.environ, PYTHONPATH=ANALYSIS)
    p = subprocess.run([sys.executable, "block.py"], cwd=tmp_path, capture_output=True,
                       text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "EUR/MWh" in p.stdout
    assert "market.rounds_per_slot" in p.stdout  # the sweep's per-value means are printed
