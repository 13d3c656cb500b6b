/* cmd_bench — `setm bench engine|mine|market`: throughput figures (never asserted by tests). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/phold.h"

static const char bench_usage[] =
    "usage: setm bench engine [--lps N] [--events M] [--population P] [--seed S]\n"
    "       setm bench mine   [options]   (setm bench mine --help)\n"
    "  engine  PHOLD on the event engine: N logical processes (default 10000), M events\n"
    "          (default 10000000), P initial events per LP (default 1); prints events/s\n"
    "  mine    nonce-search throughput of each mining backend, in MH/s\n";

int cli_bench(int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error("bench", bench_usage, "missing what to benchmark");
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(bench_usage, stdout);
        return 0;
    }
    if (!strcmp(argv[1], "engine"))
        return cli_bench_engine(argc - 1, argv + 1);
    if (!strcmp(argv[1], "mine"))
        return cli_bench_mine(argc - 1, argv + 1);
    return cli_usage_error("bench", bench_usage, "unknown benchmark '%s'", argv[1]);
}

int cli_bench_engine(int argc, char **argv)
{
    static const struct option opts[] = {
        {"lps", required_argument, NULL, 'l'},        {"events", required_argument, NULL, 'n'},
        {"population", required_argument, NULL, 'p'}, {"seed", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},             {NULL, 0, NULL, 0}};
    unsigned long long lps = 10000, events = 10000000, pop = 1, seed = 1, v;
    struct phold_result r;
    struct err e = {0};
    int c;

    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(bench_usage, stdout);
            return 0;
        }
        if (c == '?')
            return cli_usage_error("bench engine", bench_usage, "unknown option '%s'",
                                   argv[optind - 1]);
        if (cli_parse_u64(optarg, &v) != 0 || v == 0 || (c != 'n' && c != 's' && v > 100000000ULL))
            return cli_usage_error("bench engine", bench_usage, "bad value '%s' for --%s",
                                   optarg, c == 'l' ? "lps" : c == 'n' ? "events"
                                                           : c == 'p' ? "population" : "seed");
        if (c == 'l') lps = v;
        else if (c == 'n') events = v;
        else if (c == 'p') pop = v;
        else seed = v;
    }
    if (optind != argc)
        return cli_usage_error("bench engine", bench_usage, "unexpected argument '%s'",
                               argv[optind]);
    if (phold_run((uint32_t)lps, events, (uint32_t)pop, 1.0, seed, &r, &e) != 0)
        return cli_fail("bench engine", &e);
    printf("bench engine: PHOLD, %llu LPs, %llu initial events, %llu events\n", lps, lps * pop,
           (unsigned long long)r.events);
    printf("  %.3f s wall, %.2f million events/s (one core), simulated time %.1f\n", r.wall_s,
           (double)r.events / r.wall_s / 1e6, r.sim_time);
    printf("  checksum %016llx\n", (unsigned long long)r.checksum);
    return 0;
}
