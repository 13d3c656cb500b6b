/* cmd_run — `setm run SCENARIO`: load and check the scenario, run it, report where the output went. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/config.h"
#include "run/sim.h"

static const char run_usage[] =
    "usage: setm run SCENARIO [-o OUT.h5] [--set section.key=value]... [--backend auto|opencl|cpu]\n"
    "                [--threads N] [--quiet]\n"
    "  -o, --output FILE   HDF5 output (default: out/<scenario file name>.h5)\n"
    "  -s, --set K=V       override a scenario key, e.g. --set market.rounds_per_slot=10\n"
    "                      or --set agent.house.count=50 (repeatable, applied last, in order)\n"
    "  -b, --backend B     nonce-search backend (same as --set mine.backend=B)\n"
    "  -j, --threads N     threads signing, verifying and deriving keys, 0 = every core (same as\n"
    "                      --set sim.threads=N; results do not depend on it)\n"
    "  -q, --quiet         print nothing on success\n"
    "  -h, --help          this text\n";

/* The one piece of process state a signal handler may touch: asks the run to stop between slots.
 * SIGINT (Ctrl-C), SIGTERM and SIGHUP (the terminal closed) all ask it. */
static volatile sig_atomic_t run_stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    run_stop_requested = 1;
}

/* The keys `setm run --help` lists with their compiled defaults (cfg_key_get), most used first. */
static const char *const help_keys[][2] = {
    {"scenario", "seed"},       {"sim", "days"},            {"population", "count"},
    {"market", "mechanism"},    {"market", "strategy"},     {"market", "rounds_per_slot"},
    {"market", "slot_minutes"}, {"chain", "nodes"},         {"chain", "difficulty_bits"},
    {"chain", "block_interval_s"}, {"mine", "backend"},     {"attacks", "tamper_rate"},
    {"security", "mutual_key"},
};

static void print_help_keys(void)
{
    struct cfg_key_info k;
    printf("\nmost used --set keys (compiled default; every key: configs/defaults.ini):\n");
    for (size_t h = 0; h < sizeof help_keys / sizeof help_keys[0]; h++)
        for (size_t i = 0; i < cfg_key_count(); i++) {
            cfg_key_get(i, &k);
            if (strcmp(k.section, help_keys[h][0]) || strcmp(k.name, help_keys[h][1]))
                continue;
            char key[64];
            snprintf(key, sizeof key, "%s.%s", k.section, k.name);
            printf("  %-26s %-14s %s%s%s%s\n", key, k.def[0] ? k.def : "\"\"", k.help,
                   k.unit[0] ? " [" : "", k.unit, k.unit[0] ? "]" : "");
        }
}

struct progress {
    int enabled;
    int last;      /* last permille drawn */
    double t0;     /* wall clock at the start, s */
    double days;   /* simulated days of the whole run */
};

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Bar, percentage, rate in simulated days per wall second and the time left at that rate. */
static void draw_progress(double fraction, void *vctx)
{
    struct progress *p = vctx;
    int pm = (int)(fraction * 1000.0);
    int width = 30, filled = (int)(fraction * width);
    double el = wall_s() - p->t0;
    char eta[32] = "--:--:--";
    if (!p->enabled || pm == p->last)
        return;
    p->last = pm;
    if (fraction > 0 && el > 0) {
        double left = el / fraction * (1.0 - fraction);
        snprintf(eta, sizeof eta, "%d:%02d:%02d", (int)(left / 3600), (int)fmod(left / 60, 60),
                 (int)fmod(left, 60));
    }
    fprintf(stderr, "\r\033[K[%.*s%*s] %5.1f%%  %.3g sim-days/s  ETA %s", filled,
            "##############################", width - filled, "", fraction * 100.0,
            el > 0 ? fraction * p->days / el : 0.0, eta);
    if (pm >= 1000)
        fputc('\n', stderr);
    fflush(stderr);
}

/* out/<basename without .ini>.h5 */
static int default_output(const char *scenario, char *buf, size_t n)
{
    char stem[256];
    cli_scenario_stem(scenario, stem, sizeof stem);
    if (mkdir("out", 0777) != 0 && access("out", W_OK) != 0)
        return -1;
    snprintf(buf, n, "out/%s.h5", stem);
    return 0;
}

int cli_run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'}, {"set", required_argument, NULL, 's'},
        {"backend", required_argument, NULL, 'b'}, {"quiet", no_argument, NULL, 'q'},
        {"threads", required_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    const char *output = NULL, *scenario;
    const char **sets = NULL;
    const char *backend = NULL, *threads = NULL;
    size_t n_sets = 0;
    int quiet = 0, c, rc;
    struct cfg cfg;
    struct err e = {0};
    char outbuf[4096];
    struct sim_summary sum;
    struct sim_opts so;
    struct progress prog = {0, -1, 0, 0};

    sets = calloc((size_t)argc, sizeof *sets);
    if (!sets)
        return 1;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:s:b:j:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'o': output = optarg; break;
        case 's': sets[n_sets++] = optarg; break;
        case 'b': backend = optarg; break;
        case 'j': threads = optarg; break;
        case 'q': quiet = 1; break;
        case 'h':
            fputs(run_usage, stdout);
            print_help_keys();
            free(sets);
            return 0;
        default:
            free(sets);
            if (optopt)
                return cli_usage_error("run", run_usage, "option '-%c' is unknown or needs a value",
                                       optopt);
            return cli_usage_error("run", run_usage, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1) {
        free(sets);
        return cli_usage_error("run", run_usage, optind >= argc ? "missing SCENARIO"
                                                                : "expected one SCENARIO");
    }
    scenario = argv[optind];

    cfg_init(&cfg);
    rc = cfg_load_file(&cfg, scenario, &e);
    for (size_t i = 0; !rc && i < n_sets; i++)
        rc = cfg_set(&cfg, sets[i], &e);
    if (!rc && backend) {
        char kv[128];
        snprintf(kv, sizeof kv, "mine.backend=%s", backend);
        rc = cfg_set(&cfg, kv, &e);
        if (rc)
            err_set(&e, ERR_USAGE, "--backend %s: expected auto, opencl or cpu", backend);
    }
    if (!rc && threads) {
        char kv[128];
        snprintf(kv, sizeof kv, "sim.threads=%s", threads);
        rc = cfg_set(&cfg, kv, &e);
        if (rc)
            err_set(&e, ERR_USAGE, "--threads %s: expected 0 (every core) to 256", threads);
    }
    if (!rc)
        rc = cfg_validate(&cfg, &e);
    free(sets);
    if (rc) {
        cfg_fini(&cfg);
        return cli_fail("run", &e);
    }
    if (cfg.n_sweep && !quiet)
        fprintf(stderr, "setm run: note: %s has a [sweep] section; this runs its base point "
                        "only (setm sweep runs them all)\n",
                scenario);
    if (!output) {
        if (default_output(scenario, outbuf, sizeof outbuf) != 0) {
            err_set(&e, ERR_IO, "cannot create the output directory 'out': %s", strerror(errno));
            cfg_fini(&cfg);
            return cli_fail("run", &e);
        }
        output = outbuf;
    }
    /* Before any work: a bad OUT must not cost a whole simulation. */
    if (cli_output_check(output, &cfg, &e)) {
        cfg_fini(&cfg);
        return cli_fail("run", &e);
    }

    memset(&so, 0, sizeof so);
    so.output = output;
    so.scenario_path = scenario;
    prog.enabled = !quiet && isatty(STDERR_FILENO);
    prog.t0 = wall_s();
    prog.days = cfg.sim.days;
    so.progress = draw_progress;
    so.progress_ctx = &prog;
    so.stop = &run_stop_requested;
    run_stop_requested = 0;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);

    memset(&sum, 0, sizeof sum);
    rc = sim_run(&cfg, &so, &sum, &e);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    if (sum.mine_note[0])
        fprintf(stderr, "setm run: warning: %s\n", sum.mine_note); /* once per run */
    if (rc) {
        cfg_fini(&cfg);
        return cli_fail("run", &e);
    }
    if (!quiet) {
        printf("setm run: %s (scenario '%s', seed %lld)\n", scenario, cfg.scenario.name,
               (long long)cfg.scenario.seed);
        printf("  simulated %.2f days: %lld agents, %lld slots, %lld rounds, %llu events\n",
               sum.sim_seconds / 86400.0, (long long)sum.agents, (long long)sum.slots,
               (long long)sum.rounds, (unsigned long long)sum.events);
        printf("  energy: %.1f kWh generated, %.1f kWh consumed\n", sum.generation_kwh,
               sum.load_kwh);
        printf("  market: %llu trades, %.1f kWh at %.2f EUR/MWh on average, efficiency %.3f\n",
               (unsigned long long)sum.trades, sum.traded_kwh, sum.mean_price, sum.efficiency);
        if (sum.attacks_injected || sum.honest_rejected)
            printf("  security: %llu of %llu injected attacks detected, %llu honest messages "
                   "rejected\n",
                   (unsigned long long)sum.attacks_detected,
                   (unsigned long long)sum.attacks_injected,
                   (unsigned long long)sum.honest_rejected);
        printf("  mining backend: %s\n", sum.mine_backend);
        printf("  wall time %.3f s\n", sum.wall_seconds);
        printf("  output: %s\n", output);
    }
    cfg_fini(&cfg);
    return 0;
}
