"""The file layout analysis/plot_prices.jl relies on, as a tested contract (no Julia here: the
script itself is untested, README says so).

What the script reads is taken from its source (each `load_table(f, "TABLE", [...columns])` call
and each `read_attribute(f, "NAME")`), so the contract follows the script.  On real run files,
each of those must be what HDF5.jl maps without conversions or plugins: a 1-D dataset, contiguous
or chunked (not compact, virtual or external), of a plain integer or IEEE float type (no
variable-length, compound, enum, array, opaque or reference type), compressed at most with the
deflate and shuffle filters HDF5.jl decodes itself; attributes scalar, numeric Int64 / Float64 or
a string."""

import os
import re

import h5py
import numpy as np
import pytest

from conftest import ANALYSIS

SCRIPT = os.path.join(ANALYSIS, "plot_prices.jl")
HDF5JL_FILTERS = {h5py.h5z.FILTER_DEFLATE, h5py.h5z.FILTER_SHUFFLE}
PLAIN = (h5py.h5t.INTEGER, h5py.h5t.FLOAT)


def script_reads():
    src = open(SCRIPT, encoding="utf-8").read()
    tables = {}
    for table, cols in re.findall(r'load_table\(f,\s*"(\w+)",\s*\[([^\]]*)\]\)', src):
        tables.setdefault(table, set()).update(re.findall(r'"(\w+)"', cols))
    attrs = set(re.findall(r'read_attribute\(f,\s*"(\w+)"\)', src))
    return tables, attrs


def test_script_reads_what_the_contract_names():
    tables, attrs = script_reads()
    # the price plot: round prices and the opening book, slot means (plot_prices.py's inputs)
    assert tables == {"rounds": {"t", "round", "price", "best_bid", "best_ask"},
                      "slots": {"t_start", "t_end", "mean_price"}}
    assert attrs == {"complete", "scenario_name", "seed"}
    # every column it indexes is one it loads
    src = open(SCRIPT, encoding="utf-8").read()
    for table, col in re.findall(r'\b(rounds|slots)\["(\w+)"\]', src):
        assert col in tables[table], f"{table}[{col!r}] is read but not loaded"


def check_dataset(ds):
    """Why HDF5.jl could not read `ds` as a plain Vector, or None."""
    if ds.ndim != 1:
        return f"{ds.name}: {ds.ndim}-D"
    tid = ds.id.get_type()
    if tid.get_class() not in PLAIN:
        return f"{ds.name}: type class {tid.get_class()} (not integer/float)"
    if h5py.check_vlen_dtype(ds.dtype) is not None:
        return f"{ds.name}: variable-length"
    dcpl = ds.id.get_create_plist()
    layout = dcpl.get_layout()
    if layout not in (h5py.h5d.CONTIGUOUS, h5py.h5d.CHUNKED):
        return f"{ds.name}: layout {layout} (not contiguous/chunked)"
    if dcpl.get_external_count():
        return f"{ds.name}: external storage"
    for i in range(dcpl.get_nfilters()):
        code = dcpl.get_filter(i)[0]
        if code not in HDF5JL_FILTERS:
            return f"{ds.name}: filter {code} needs an HDF5.jl plugin"
    return None


@pytest.mark.parametrize("fixture", ["run_file", "plain_run_file"])
def test_run_files_meet_the_contract(fixture, request):
    path = request.getfixturevalue(fixture)
    tables, attrs = script_reads()
    with h5py.File(path, "r") as f:
        for table, cols in tables.items():
            assert table in f, f"no /{table}"
            n = {f[table][c].shape for c in cols}
            assert len(n) == 1, f"/{table}: columns of different lengths {n}"
            for c in cols:
                assert c in f[table], f"no /{table}/{c}"
                why = check_dataset(f[table][c])
                assert why is None, why
                assert f[table][c].shape[0] > 0
        for a in attrs:
            v = f.attrs[a]
            aid = f.attrs.get_id(a)
            assert aid.shape == (), f"attribute {a} is not scalar"
            cls = aid.get_type().get_class()
            if a in ("complete", "seed"):
                assert cls == h5py.h5t.INTEGER and aid.get_type().get_size() == 8, a
                assert isinstance(v, (np.integer, int))
            else:
                assert cls == h5py.h5t.STRING, a


def test_contract_check_rejects_what_hdf5jl_cannot_read(tmp_path):
    """The checks above can fail: a vlen column, a 2-D column and a compound column are each
    named."""
    p = tmp_path / "bad.h5"
    with h5py.File(p, "w") as f:
        f.create_dataset("vlen", data=np.array(["a", "bc"], dtype=object),
                         dtype=h5py.string_dtype())
        f["twod"] = np.zeros((2, 2))
        f["comp"] = np.zeros(2, dtype=[("a", "f8"), ("b", "i4")])
        f["ok"] = np.zeros(3)
    with h5py.File(p, "r") as f:
        assert "not integer/float" in check_dataset(f["vlen"])
        assert "2-D" in check_dataset(f["twod"])
        assert "not integer/float" in check_dataset(f["comp"])
        assert check_dataset(f["ok"]) is None
