"""analysis/SCHEMA.md against real files, both ways: everything written is documented, everything
documented is written, with the documented type and units; and the layout stays within what
HDF5.jl (and any HDF5 reader) maps to plain vectors."""

import os
import re

import h5py
import numpy as np
import pytest

from conftest import ANALYSIS


def columns(group):
    """(name, dataset) of a table group's columns: the netCDF dimension scale ``row`` that each
    table also holds (analysis/SCHEMA.md, Conventions) is not one."""
    return [(c, d) for c, d in group.items() if d.attrs.get("CLASS", b"") != b"DIMENSION_SCALE"]

SCHEMA = os.path.join(ANALYSIS, "SCHEMA.md")
NUMERIC = {"int32", "int64", "uint8", "uint32", "uint64", "float64"}


def _cells(line):
    """Cells of a markdown table row; `\\|` is a literal pipe."""
    parts = re.split(r"(?<!\\)\|", line.strip())[1:-1]
    return [p.strip().replace("\\|", "|") for p in parts]


def parse_schema(text=None):
    """{'run'|'sweep': {'attrs': {name: type}, 'tables': {name: {'optional': bool, 'chain': bool,
    'columns': {col: (type, units)}}}, 'summary': {name: (type, units)}, 'chain_attrs': ...,
    'chain_summary': ...}} from SCHEMA.md.  Headings marked "(chain)" hold what the blockchain
    writes; "(optional" marks a table that a setting switches on."""
    text = text if text is not None else open(SCHEMA, encoding="utf-8").read()
    out = {}
    part = section = None
    for line in text.splitlines():
        if line.startswith("## "):
            part = "run" if line.startswith("## Run file") else \
                   "sweep" if line.startswith("## Sweep file") else None
            if part:
                out[part] = {"attrs": {}, "tables": {}, "summary": {}, "chain_attrs": {},
                             "chain_summary": {}}
            section = None
            continue
        if part is None:
            continue
        if line.startswith("### "):
            m = re.match(r"### `/(\w+)`", line)
            chain = line.rstrip().endswith("(chain)")
            if line.startswith("### Root attributes"):
                section = ("chain_attrs" if chain else "attrs", None)
            elif m and m.group(1) == "summary" and part == "run":
                section = ("chain_summary" if chain else "summary", None)
            elif m:
                out[part]["tables"][m.group(1)] = {"optional": "(optional" in line,
                                                   "chain": chain, "columns": {}}
                section = ("table", m.group(1))
            else:
                section = None
            continue
        if section is None or not line.startswith("| `"):
            continue
        cells = _cells(line)
        name = cells[0].strip("`")
        kind, tname = section
        if kind in ("attrs", "chain_attrs"):
            out[part][kind][name] = cells[1]
        elif kind in ("summary", "chain_summary"):
            out[part][kind][name] = (cells[1], "" if cells[2] == "-" else cells[2])
        else:
            out[part]["tables"][tname]["columns"][name] = (cells[1],
                                                           "" if cells[2] == "-" else cells[2])
    return out


def dtype_name(dt):
    if dt.kind == "S":
        return "string"
    if dt.kind == "O" and h5py.check_string_dtype(dt) is not None:
        return "string"
    return dt.name


def attr_types(obj):
    return {k: dtype_name(obj.attrs.get_id(k).dtype) for k in obj.attrs}


def units(ds):
    u = ds.attrs.get("units", None)
    assert u is not None, f"{ds.name} has no units attribute"
    return u.decode() if isinstance(u, bytes) else str(u)


def compare(what, documented, written):
    """Both ways: name sets equal, then each documented (type, units) matches the written one."""
    undocumented = sorted(set(written) - set(documented))
    missing = sorted(set(documented) - set(written))
    assert not undocumented, f"{what}: written but not in SCHEMA.md: {undocumented}"
    assert not missing, f"{what}: in SCHEMA.md but not written: {missing}"
    wrong = {k: (documented[k], written[k]) for k in documented if documented[k] != written[k]}
    assert not wrong, f"{what}: SCHEMA.md says / file has: {wrong}"


def has_chain(f):
    return "blocks" in f


def expected(schema_part, key, chain):
    """Documented names of `key` ('attrs' or 'summary'), with the chain's when the file has it."""
    out = dict(schema_part[key])
    if chain:
        out.update(schema_part["chain_" + key])
    return out


@pytest.fixture(scope="module")
def schema():
    return parse_schema()


def test_schema_parses(schema):
    assert set(schema) == {"run", "sweep"}
    run = schema["run"]
    assert {"agents", "slots", "rounds", "trades", "security"} <= set(run["tables"])
    assert len(run["summary"]) > 10 and "complete" in run["attrs"]
    assert all(t["columns"] for t in run["tables"].values())


def test_run_root_attributes_match(schema, run_file):
    with h5py.File(run_file, "r") as f:
        compare("root attributes", expected(schema["run"], "attrs", has_chain(f)), attr_types(f))


def test_run_tables_match(schema, run_file):
    with h5py.File(run_file, "r") as f:
        written = {k for k in f if k != "summary"}
        documented = set(schema["run"]["tables"])
        assert not written - documented, \
            f"tables written but not in SCHEMA.md: {sorted(written - documented)}"
        missing = {t for t in documented - written if not schema["run"]["tables"][t]["optional"]
                   and (has_chain(f) or not schema["run"]["tables"][t]["chain"])}
        assert not missing, f"tables in SCHEMA.md but not written: {sorted(missing)}"
        for t in sorted(written):
            cols = {c: (dtype_name(ds.dtype), units(ds)) for c, ds in columns(f[t])}
            compare(f"/{t}", schema["run"]["tables"][t]["columns"], cols)


def test_optional_tables_are_optional(schema, plain_run_file):
    """The default run leaves out exactly the tables documented as optional, nothing else."""
    with h5py.File(plain_run_file, "r") as f:
        written = {k for k in f if k != "summary"}
        chain = has_chain(f)
    for t, spec in schema["run"]["tables"].items():
        if not spec["optional"] and (chain or not spec["chain"]):
            assert t in written, f"/{t} is not marked optional in SCHEMA.md but the default " \
                                 "run lacks it"
    assert "agent_slots" not in written


def test_run_summary_matches(schema, run_file):
    with h5py.File(run_file, "r") as f:
        written = {k: (dtype_name(ds.dtype), units(ds)) for k, ds in columns(f["summary"])}
        assert all(ds.shape == () for ds in f["summary"].values())
        chain = has_chain(f)
    compare("/summary", expected(schema["run"], "summary", chain), written)


def test_every_column_has_a_description(run_file):
    with h5py.File(run_file, "r") as f:
        for t in f:
            if t == "summary":
                continue
            for c, ds in columns(f[t]):
                d = ds.attrs.get("description", b"")
                assert len(d) > 0, f"/{t}/{c} has no description attribute"


def test_layout_is_plain_vectors(run_file, sweep_dir):
    """Only what HDF5.jl maps to Vector{Int,UInt,Float64,String}: 1-D numeric or fixed-length
    string columns of equal length per table, 0-d numeric summaries, scalar numeric or
    variable-length UTF-8 string attributes."""
    for path in (run_file, os.path.join(sweep_dir, "sweep.h5")):
        with h5py.File(path, "r") as f:
            for k in f.attrs:
                dt = f.attrs.get_id(k).dtype
                info = h5py.check_string_dtype(dt)
                assert dtype_name(dt) in NUMERIC or (info and info.encoding == "utf-8"), \
                    f"{path}: attribute {k} has type {dt}"
                assert np.ndim(f.attrs[k]) == 0
            for t in f:
                if t == "files":
                    continue
                lengths = set()
                for c, ds in columns(f[t]):
                    assert dtype_name(ds.dtype) in NUMERIC | {"string"}, f"/{t}/{c}: {ds.dtype}"
                    if t == "summary" and ds.ndim == 0:
                        continue
                    assert ds.ndim == 1, f"/{t}/{c} is {ds.ndim}-D"
                    lengths.add(ds.shape[0])
                assert len(lengths) <= 1, f"/{t}: columns of different lengths {lengths}"


def test_sweep_matches(schema, sweep_dir, run_file):
    sw = schema["sweep"]
    with h5py.File(os.path.join(sweep_dir, "sweep.h5"), "r") as f:
        compare("sweep.h5 root attributes", sw["attrs"], attr_types(f))
        assert set(f) == set(sw["tables"]) | {"summary"}, sorted(f)
        keys = [k for k in f.attrs["keys"].split(",") if k]
        assert keys, "the test sweep sweeps one key"
        cols = {c: (dtype_name(ds.dtype), units(ds)) for c, ds in columns(f["runs"])}
        documented = dict(sw["tables"]["runs"]["columns"])
        generic = documented.pop("<key>")
        for k in keys:
            assert cols[k][0] in generic[0].split(" | "), f"/runs/{k}: {cols[k]}"
            documented[k] = cols[k]
        compare("sweep.h5 /runs", documented, cols)
        # /summary: one float64 column per run /summary scalar, with its units.
        with h5py.File(run_file, "r") as r:
            expect = {k: ("float64", units(ds)) for k, ds in columns(r["summary"])}
        got = {k: (dtype_name(ds.dtype), units(ds)) for k, ds in columns(f["summary"])}
        compare("sweep.h5 /summary", expect, got)
        ok = [i for i, s in enumerate(f["runs/status"][:]) if s == b"ok"]
        assert len(f["files"]) == len(ok)
        for name in f["files"]:
            assert isinstance(f["files"].get(name, getlink=True), h5py.ExternalLink)


def test_parser_catches_drift():
    """The comparison really fails on an undocumented or a missing name and on other units."""
    text = open(SCHEMA, encoding="utf-8").read()
    doc = parse_schema(text)["run"]["tables"]["trades"]["columns"]
    written = dict(doc)
    written["extra"] = ("float64", "s")
    with pytest.raises(AssertionError, match="not in SCHEMA.md"):
        compare("/trades", doc, written)
    del written["extra"]
    del written["price"]
    with pytest.raises(AssertionError, match="but not written"):
        compare("/trades", doc, written)
    written = dict(doc)
    written["price"] = ("float64", "EUR/kWh")
    with pytest.raises(AssertionError, match="SCHEMA.md says"):
        compare("/trades", doc, written)
