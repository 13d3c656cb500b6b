# plot_prices.jl — the clearing-price plot of plot_prices.py, in Julia, reading a setm run file
# with HDF5.jl: each slot's opening bid/ask envelope (best bid and best ask before round 0
# clears), every round's clearing price, and each slot's volume-weighted mean price.
#
#   julia analysis/plot_prices.jl RUN.h5 [OUTDIR]        # writes OUTDIR/prices_jl.png
#
# Needs:  julia> import Pkg; Pkg.add(["HDF5", "Plots"])
#
# The file layout (analysis/SCHEMA.md) is what HDF5.jl maps directly: every table column is a
# 1-D dataset read as a Vector{Int32,Int64,UInt32,UInt64,UInt8,Float64}, fixed-length string
# columns come back as Vector{String}, root attributes are Int64, Float64 or (variable-length
# UTF-8) String.  NaN marks a round without trades or a missing side of the book.
#
# UNTESTED: no Julia on the machine this was written on; written against HDF5.jl's documented
# API (h5open, read, read_attribute, haskey) and Plots.jl.  What it reads is a tested contract:
# analysis/tests/test_julia_layout.py checks, on real run files, that every column named in a
# load_table call below is a 1-D contiguous or chunked dataset of a plain numeric type (deflate
# and shuffle filters only, which HDF5.jl decodes without plugins) and that the root attributes
# read here are scalar Int64 / String.  Reading a new column means adding it to that call.

using HDF5
using Plots

function load_table(f, name, cols)
    haskey(f, name) || error("$(f.filename): no table /$name (tables: $(join(keys(f), ", ")))")
    g = f[name]
    for col in cols
        haskey(g, col) || error("$(f.filename): table /$name has no column $col")
    end
    Dict(col => read(g, col) for col in cols)
end

function main(args)
    length(args) >= 1 || error("usage: julia plot_prices.jl RUN.h5 [OUTDIR]")
    path = args[1]
    outdir = length(args) >= 2 ? args[2] : "out/plots"
    isfile(path) || error("$path: no such file")
    HDF5.ishdf5(path) || error("$path: not an HDF5 file")

    rounds, slots, name, seed = h5open(path, "r") do f
        read_attribute(f, "complete") == 1 || @warn "$path: run did not complete"
        (load_table(f, "rounds", ["t", "round", "price", "best_bid", "best_ask"]),
         load_table(f, "slots", ["t_start", "t_end", "mean_price"]),
         read_attribute(f, "scenario_name"), read_attribute(f, "seed"))
    end

    th = rounds["t"] ./ 3600                       # clearing time, hours
    rnd = rounds["round"]
    price = rounds["price"]
    first = rnd .== 0
    traded = .!isnan.(price)

    p = plot(size = (1100, 500), xlabel = "simulated time (h)", ylabel = "price (EUR/MWh)",
             title = "Clearing price per round and slot — $name, seed $seed (Julia)",
             legend = :topleft)
    # opening envelope: best bid and best ask of round 0, as steps over the slot
    plot!(p, th[first], rounds["best_bid"][first], seriestype = :steppost,
          label = "opening best bid", color = :blue)
    plot!(p, th[first], rounds["best_ask"][first], seriestype = :steppost,
          label = "opening best ask", color = :red)
    scatter!(p, th[traded], price[traded], zcolor = rnd[traded], markersize = 3,
             markerstrokewidth = 0, label = "clearing price (colour: round)")
    mid = (slots["t_start"] .+ slots["t_end"]) ./ 2 ./ 3600
    plot!(p, mid, slots["mean_price"], label = "slot mean price", color = :orange, lw = 2)

    mkpath(outdir)
    out = joinpath(outdir, "prices_jl.png")
    savefig(p, out)
    println(out)
end

main(ARGS)
