/* cmd_bench — `setm bench scale|engine|agents|market|mine`: throughput figures (never asserted by
 * tests). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <time.h>

#include "core/wallclock.h"
#include "cli/cli.h"
#include "core/config.h"
#include "core/phold.h"
#include "core/pool.h"
#include "core/rng.h"
#include "run/sim.h"
#include "grid/agents.h"
#include "market/clear.h"
#include "security/message.h"
#include "security/registry.h"

static const char bench_usage[] =
    "usage: setm bench scale  [--agents N] [--days D] [--threads T] [--scenario FILE]\n"
    "       setm bench engine [--lps N] [--events M] [--population P] [--seed S]\n"
    "       setm bench agents [--agents N] [--days D]\n"
    "       setm bench market\n"
    "       setm bench mine   [options]   (setm bench mine --help)\n"
    "  scale   a whole run (chain and authentication on, CPU mining) of FILE (default\n"
    "          scenarios/neighbourhood_500.ini) with N agents (default 2000) over D days\n"
    "          (default 1) on T threads (default 0 = every core); prints agent-days/s, wall\n"
    "          and CPU seconds and peak memory; the output goes to a temporary file, removed\n"
    "          afterwards\n"    "  engine  PHOLD on the event engine: N logical processes (default 10000), M events\n"
    "          (default 10000000), P initial events per LP (default 1); prints events/s\n"
    "  agents  profile generation: a mixed population of N agents (default 10000) over D days\n"
    "          (default 30) at 15-minute slots, history included; prints agent-slots/s\n"
    "  market  orders cleared per second by each mechanism at 100, 1000 and 10000 orders per\n"
    "          round, and market messages authenticated per second\n"
    "  mine    nonce-search throughput of each mining backend, in MH/s\n";

int cli_bench(int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error("bench", bench_usage, "missing what to benchmark");
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(bench_usage, stdout);
        return 0;
    }
    if (!strcmp(argv[1], "scale"))
        return cli_bench_scale(argc - 1, argv + 1);
    if (!strcmp(argv[1], "engine"))
        return cli_bench_engine(argc - 1, argv + 1);
    if (!strcmp(argv[1], "mine"))
        return cli_bench_mine(argc - 1, argv + 1);
    if (!strcmp(argv[1], "agents"))
        return cli_bench_agents(argc - 1, argv + 1);
    if (!strcmp(argv[1], "market"))
        return cli_bench_market(argc - 1, argv + 1);
    return cli_usage_error("bench", bench_usage, "unknown benchmark '%s'", argv[1]);
}

enum { BENCH_OPTS_END = -1, BENCH_OPTS_EXIT = -2 };

/* The next option of `setm bench NAME` for the caller to handle; BENCH_OPTS_END after the last
 * one; BENCH_OPTS_EXIT with *code the exit code: 0 after printing the usage (-h, --help), 2
 * after an unknown option or a stray argument (named, with the usage).  Set opterr = 0 and
 * optind = 1 before the first call. */
static int bench_opt(int argc, char **argv, const struct option *opts, const char *name,
                     int *code)
{
    int c = getopt_long(argc, argv, "h", opts, NULL);
    if (c == 'h') {
        fputs(bench_usage, stdout);
        *code = 0;
        return BENCH_OPTS_EXIT;
    }
    if (c == '?') {
        *code = cli_usage_error(name, bench_usage, "unknown option '%s'", argv[optind - 1]);
        return BENCH_OPTS_EXIT;
    }
    if (c == -1 && optind != argc) {
        *code = cli_usage_error(name, bench_usage, "unexpected argument '%s'", argv[optind]);
        return BENCH_OPTS_EXIT;
    }
    return c == -1 ? BENCH_OPTS_END : c;
}

static double cpu_seconds(void)
{
    struct rusage u;
    if (getrusage(RUSAGE_SELF, &u) != 0)
        return 0;
    return (double)u.ru_utime.tv_sec + (double)u.ru_stime.tv_sec +
           1e-6 * (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

int cli_bench_scale(int argc, char **argv)
{
    static const struct option opts[] = {
        {"agents", required_argument, NULL, 'a'}, {"days", required_argument, NULL, 'd'},
        {"threads", required_argument, NULL, 't'}, {"scenario", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    const char *scenario = SETM_SOURCE_DIR "/scenarios/neighbourhood_500.ini";
    const char *days = "1";
    unsigned long long agents = 2000, threads = 0, v;
    char dir[64], out[128], kv[96], *end;
    struct cfg cfg;
    struct err e = {0};
    struct sim_opts so;
    struct sim_summary sum;
    struct rusage ru;
    double d, w0, c0, wall, cpu;
    int c, rc = 0, nth;

    int code = 0;

    opterr = 0;
    optind = 1;
    while ((c = bench_opt(argc, argv, opts, "bench scale", &code)) >= 0) {
        if (c == 's') {
            scenario = optarg;
            continue;
        }
        if (c == 'd') {
            d = strtod(optarg, &end);
            if (end == optarg || *end || !(d > 0) || d > 3650)
                return cli_usage_error("bench scale", bench_usage,
                                       "bad value '%s' for --days (0 < D <= 3650)", optarg);
            days = optarg;
            continue;
        }
        if (cli_parse_u64(optarg, &v) != 0 || (c == 'a' && (v == 0 || v > 1000000ULL)) ||
            (c == 't' && v > POOL_MAX_THREADS))
            return cli_usage_error("bench scale", bench_usage, "bad value '%s' for --%s", optarg,
                                   c == 'a' ? "agents" : "threads");
        if (c == 'a')
            agents = v;
        else
            threads = v;
    }
    if (c == BENCH_OPTS_EXIT)
        return code;
    cfg_init(&cfg);
    rc = cfg_load_file(&cfg, scenario, &e);
    snprintf(kv, sizeof kv, "population.count=%llu", agents);
    if (!rc)
        rc = cfg_set(&cfg, kv, &e);
    snprintf(kv, sizeof kv, "sim.days=%s", days);
    if (!rc)
        rc = cfg_set(&cfg, kv, &e);
    snprintf(kv, sizeof kv, "sim.threads=%llu", threads);
    if (!rc)
        rc = cfg_set(&cfg, kv, &e);
    if (!rc)
        rc = cfg_set(&cfg, "mine.backend=cpu", &e);
    if (!rc)
        rc = cfg_validate(&cfg, &e);
    if (rc) {
        cfg_fini(&cfg);
        return cli_fail("bench scale", &e);
    }
    snprintf(dir, sizeof dir, "/tmp/setm-bench-XXXXXX");
    if (!mkdtemp(dir)) {
        cfg_fini(&cfg);
        err_set(&e, ERR_IO, "cannot create a temporary directory under /tmp");
        return cli_fail("bench scale", &e);
    }
    snprintf(out, sizeof out, "%s/scale.h5", dir);
    memset(&so, 0, sizeof so);
    so.output = out;
    so.scenario_path = scenario;
    nth = threads ? (int)threads : pool_cores();
    w0 = wallclock_now();
    c0 = cpu_seconds();
    rc = sim_run(&cfg, &so, &sum, &e);
    wall = wallclock_now() - w0;
    cpu = cpu_seconds() - c0;
    unlink(out);
    rmdir(dir);
    if (rc) {
        cfg_fini(&cfg);
        return cli_fail("bench scale", &e);
    }
    getrusage(RUSAGE_SELF, &ru);
    d = sum.sim_seconds / 86400.0;
    printf("bench scale agents=%lld days=%.3g threads=%d wall_s=%.2f cpu_s=%.2f "
           "agent_days_per_s=%.1f trades=%llu trades_per_s=%.0f peak_rss_mib=%.0f\n",
           (long long)sum.agents, d, nth, wall, cpu, (double)sum.agents * d / wall,
           (unsigned long long)sum.trades, (double)sum.trades / wall,
           (double)ru.ru_maxrss / 1024.0);
    cfg_fini(&cfg);
    return 0;
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

    int code = 0;

    opterr = 0;
    optind = 1;
    while ((c = bench_opt(argc, argv, opts, "bench engine", &code)) >= 0) {
        if (cli_parse_u64(optarg, &v) != 0 || v == 0 || (c != 'n' && c != 's' && v > 100000000ULL))
            return cli_usage_error("bench engine", bench_usage, "bad value '%s' for --%s",
                                   optarg, c == 'l' ? "lps" : c == 'n' ? "events"
                                                           : c == 'p' ? "population" : "seed");
        if (c == 'l') lps = v;
        else if (c == 'n') events = v;
        else if (c == 'p') pop = v;
        else seed = v;
    }
    if (c == BENCH_OPTS_EXIT)
        return code;
    if (phold_run((uint32_t)lps, events, (uint32_t)pop, 1.0, seed, &r, &e) != 0)
        return cli_fail("bench engine", &e);
    printf("bench engine: PHOLD, %llu LPs, %llu initial events, %llu events\n", lps, lps * pop,
           (unsigned long long)r.events);
    printf("  %.3f s wall, %.2f million events/s (one core), simulated time %.1f\n", r.wall_s,
           (double)r.events / r.wall_s / 1e6, r.sim_time);
    printf("  checksum %016llx\n", (unsigned long long)r.checksum);
    return 0;
}

int cli_bench_agents(int argc, char **argv)
{
    static const struct option opts[] = {{"agents", required_argument, NULL, 'a'},
                                         {"days", required_argument, NULL, 'd'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    /* A neighbourhood mix: mostly homes, some devices and EVs, a few offices, one factory and
     * one solar plant per thousand agents. */
    static const char *const mix[] = {"population.home_solar=600", "population.wearable=50",
                                      "population.smart_device=150", "population.smart_vehicle=100",
                                      "population.personal_office=98", "population.smart_factory=1",
                                      "population.solar_system=1"};
    unsigned long long agents = 10000, days = 30, v;
    struct cfg cfg;
    struct err e = {0};
    struct agent_pop *p;
    struct agent_slot_stats st;
    char kv[64];
    double t0, t1, t2, gen = 0;
    int64_t slots;
    int c, rc = 0;

    int code = 0;

    opterr = 0;
    optind = 1;
    while ((c = bench_opt(argc, argv, opts, "bench agents", &code)) >= 0) {
        if (cli_parse_u64(optarg, &v) != 0 || v == 0 || v > (c == 'a' ? 1000000ULL : 3650ULL))
            return cli_usage_error("bench agents", bench_usage, "bad value '%s' for --%s", optarg,
                                   c == 'a' ? "agents" : "days");
        if (c == 'a')
            agents = v;
        else
            days = v;
    }
    if (c == BENCH_OPTS_EXIT)
        return code;
    cfg_init(&cfg);
    snprintf(kv, sizeof kv, "population.count=%llu", agents);
    rc = cfg_set(&cfg, kv, &e);
    for (size_t i = 0; !rc && i < sizeof mix / sizeof mix[0]; i++)
        rc = cfg_set(&cfg, mix[i], &e);
    snprintf(kv, sizeof kv, "sim.days=%llu", days);
    if (!rc)
        rc = cfg_set(&cfg, kv, &e);
    if (!rc)
        rc = cfg_validate(&cfg, &e);
    if (rc) {
        cfg_fini(&cfg);
        return cli_fail("bench agents", &e);
    }
    slots = (int64_t)days * (1440 / cfg.market.slot_minutes);
    t0 = wallclock_now();
    p = agent_pop_new(&cfg, slots, &e);
    if (!p) {
        cfg_fini(&cfg);
        return cli_fail("bench agents", &e);
    }
    t1 = wallclock_now();
    for (int64_t s = 0; s < slots; s++) {
        agent_slot_step(p, s, &st);
        gen += st.generation_kwh;
    }
    t2 = wallclock_now();
    printf("bench agents: %zu agents, %llu days of 15-minute slots (%lld agent-slots)\n",
           agent_count(p), days, (long long)slots * (long long)agent_count(p));
    printf("  setup incl. forecast history: %.2f s\n", t1 - t0);
    printf("  %lld slots in %.2f s: %.1f million agent-slots/s (one core)\n", (long long)slots,
           t2 - t1, (double)slots * (double)agent_count(p) / (t2 - t1) / 1e6);
    printf("  generated %.0f MWh\n", gen / 1000.0);
    agent_pop_free(p);
    cfg_fini(&cfg);
    return 0;
}

/* One book of n orders, half bids half asks, prices in the Table 1 band. */
static void bench_book(gsl_rng *r, size_t n, struct mkt_order *bids, struct mkt_order *asks)
{
    for (size_t k = 0; k < n / 2; k++) {
        bids[k] = (struct mkt_order){(uint32_t)k, 0.1 + 2 * gsl_rng_uniform(r),
                                     34 + 16 * gsl_rng_uniform(r), 2 * k};
        asks[k] = (struct mkt_order){(uint32_t)(n / 2 + k), 0.1 + 2 * gsl_rng_uniform(r),
                                     40 + 12 * gsl_rng_uniform(r), 2 * k + 1};
    }
}

int cli_bench_market(int argc, char **argv)
{
    static const size_t sizes[] = {100, 1000, 10000};
    static const int mechs[] = {MKT_NEGOTIATION, MKT_PAY_AS_BID, MKT_PAY_AS_CLEAR, MKT_CDA};
    struct mkt_clear_ws *ws = mkt_clear_ws_new();
    gsl_rng *r = rng_stream_new(1, "bench.market", 0);
    struct mkt_order *bids = malloc(5000 * sizeof *bids), *asks = malloc(5000 * sizeof *asks);
    int rc = 0;

    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(bench_usage, stdout);
        goto out;
    }
    if (argc > 1) {
        rc = cli_usage_error("bench market", bench_usage, "unexpected argument '%s'", argv[1]);
        goto out;
    }
    if (!ws || !r || !bids || !asks) {
        fprintf(stderr, "setm bench market: out of memory\n");
        rc = 1;
        goto out;
    }
    printf("bench market: one round's book, half bids, half asks (one core)\n");
    for (size_t mi = 0; mi < 4; mi++)
        for (size_t si = 0; si < 3; si++) {
            size_t n = sizes[si], reps = 0, matched = 0;
            double t0 = wallclock_now(), t;
            bench_book(r, n, bids, asks);
            do {
                const struct mkt_match *m;
                size_t nm = 0;
                double p;
                if (mechs[mi] == MKT_CDA) {
                    /* every order arrives and matches at once against the book so far */
                    struct mkt_cda *b = mkt_cda_new(n);
                    for (size_t k = 0; b && k < n / 2; k++) {
                        size_t c;
                        mkt_cda_submit(b, 0, &bids[k], &m, &c);
                        nm += c;
                        mkt_cda_submit(b, 1, &asks[k], &m, &c);
                        nm += c;
                    }
                    mkt_cda_free(b);
                } else {
                    mkt_clear(ws, mechs[mi], bids, n / 2, asks, n / 2, r, &m, &nm, &p);
                }
                matched = nm;
                reps++;
                t = wallclock_now() - t0;
            } while (t < 0.3);
            printf("  %-13s %6zu orders: %9.1f us per round, %6.2f million orders/s (%zu matches)\n",
                   mkt_mechanism_name(mechs[mi]), n, 1e6 * t / (double)reps,
                   (double)(n * reps) / t / 1e6, matched);
        }
    {
        const char *names[] = {"a", "MiM"};
        struct err e = {0};
        struct id_registry *reg = id_registry_new(1, names, 2, ID_MUTUAL_BESTOWED, &e);
        struct msg msg = {MSG_SHARE, 0, 1, 0, 0, 1.5, 42.0, {0}};
        unsigned char wire[MSG_WIRE_BYTES];
        size_t reps = 0, ok = 0;
        double t0, t;
        if (!reg) {
            rc = cli_fail("bench market", &e);
            goto out;
        }
        msg_seal(&msg, reg);
        msg_encode(&msg, wire);
        t0 = wallclock_now();
        do {
            struct msg d;
            for (int k = 0; k < 1000; k++, reps++)
                ok += msg_decode(wire, sizeof wire, &d, NULL) == 0 &&
                      id_mac_verify(reg, d.sender, wire, MSG_BODY_BYTES, d.mac);
            t = wallclock_now() - t0;
        } while (t < 0.3);
        printf("  messages: %.2f million decoded and authenticated per second (%zu of %zu valid)\n",
               (double)reps / t / 1e6, ok, reps);
        id_registry_free(reg);
    }
    { /* one party's copy of a pair's mutual key under each model (security.mutual_key) */
        static const char *const names[] = {"a", "b", "c", "d", "e", "f", "g", "h"};
        for (int model = ID_MUTUAL_BESTOWED; model <= ID_MUTUAL_KX; model++) {
            struct err e = {0};
            struct id_registry *reg = id_registry_new(1, names, 8, model, &e);
            unsigned char key[ID_KEY_BYTES];
            size_t reps = 0;
            double t0, t;
            if (!reg) {
                rc = cli_fail("bench market", &e);
                goto out;
            }
            t0 = wallclock_now();
            do { /* derive: no cache, so every call does the full work */
                for (uint32_t k = 0; k < 56; k++, reps++)
                    if (id_mutual_key_derive(reg, k / 7, (k / 7 + 1 + k % 7) % 8, key)) {
                        id_registry_free(reg);
                        fprintf(stderr, "setm bench market: mutual key failed\n");
                        rc = 1;
                        goto out;
                    }
                t = wallclock_now() - t0;
            } while (t < 0.3);
            printf("  mutual key, one party's copy, %-8s %7.2f us\n",
                   model == ID_MUTUAL_KX ? "kx:" : "bestowed:", 1e6 * t / (double)reps);
            id_registry_free(reg);
        }
    }
out:
    mkt_clear_ws_free(ws);
    rng_free(r);
    free(bids);
    free(asks);
    return rc;
}
