#!/usr/bin/env python3
"""Write the fuzz_verify seed corpus (tests/fuzz/corpus/verify/) from a small real run.

usage: make_verify_corpus.py RUN.h5 OUTDIR

Keeps only what `setm verify` reads (root attributes complete and scenario; /blocks,
/transactions, /trades with the columns it uses) so the seeds are a few kB, then writes
corrupted copies: a flipped header byte, a changed trade price, a changed encoding digit, a
removed block, a truncated file, no /trades table, a partial run.  Needs h5py (a developer
tool; the C tests write their corrupted files with the HDF5 C API)."""
import sys
import h5py

COLS = {
    "blocks": ["height", "hash", "previous", "merkle_root", "header", "stale", "chainwork",
               "t_published"],
    "transactions": ["block", "height", "index", "stale", "txid", "kind", "ref", "part", "parts",
                     "encoding"],
    "trades": ["id", "group", "seller", "buyer", "kwh", "price", "t_request", "t_agree",
               "height"],
}


def write(src, path, edit=None, drop_table=None, complete=1, drop_row=None):
    with h5py.File(path, "w", libver="earliest") as out:
        out.attrs["complete"] = complete
        out.attrs["scenario"] = src.attrs["scenario"]
        for k, (table, cols) in enumerate(COLS.items()):
            if table == drop_table:
                continue
            g = out.create_group(table)
            for c in cols:
                data = src[table][c][:]
                if table == "transactions" and c == "encoding":
                    data = data.astype("S1025")
                if drop_row is not None and table == "blocks":
                    data = list(data[:drop_row]) + list(data[drop_row + 1:])
                if edit and (table, c) == edit[0]:
                    data = edit[1](data)
                # alternate layouts so the fuzzer starts from contiguous, chunked and deflated
                kw = {} if k == 0 else {"chunks": (16,), "maxshape": (None,)}
                if k == 2:
                    kw["compression"] = "gzip"
                g.create_dataset(c, data=data, dtype=src[table][c].dtype, **kw)


def main():
    src = h5py.File(sys.argv[1], "r")
    d = sys.argv[2].rstrip("/") + "/"
    write(src, d + "run.h5")

    def flip_header(a):
        a = a.copy()
        h = bytearray(a[len(a) // 2])
        h[140] = ord("1") if h[140] != ord("1") else ord("2")
        a[len(a) // 2] = bytes(h)
        return a

    def price(a):
        a = a.copy()
        a[0] += 1
        return a

    def enc(a):
        a = a.copy()
        e = bytearray(a[0])
        e[30] = ord("f") if e[30] != ord("f") else ord("e")
        a[0] = bytes(e)
        return a

    write(src, d + "header_flipped.h5", edit=(("blocks", "header"), flip_header))
    write(src, d + "trade_price.h5", edit=(("trades", "price"), price))
    write(src, d + "encoding_byte.h5", edit=(("transactions", "encoding"), enc))
    write(src, d + "block_removed.h5", drop_row=len(src["blocks"]["height"]) // 2)
    write(src, d + "no_trades.h5", drop_table="trades")
    write(src, d + "partial.h5", complete=0)
    with open(d + "run.h5", "rb") as f:
        whole = f.read()
    with open(d + "truncated.h5", "wb") as f:
        f.write(whole[: len(whole) // 2])


if __name__ == "__main__":
    main()
