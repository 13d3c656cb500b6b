/* cmd_run — `setm run SCENARIO`: load and check the scenario, run it, report where the output went. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

struct progress {
    int enabled;
    int last; /* last percentage drawn */
};

static void draw_progress(double fraction, void *vctx)
{
    struct progress *p = vctx;
    int pct = (int)(fraction * 100.0);
    int width = 40, filled = (int)(fraction * width);
    if (!p->enabled || pct == p->last)
        return;
    p->last = pct;
    fprintf(stderr, "\r[%.*s%*s] %3d%%", filled, "########################################",
            width - filled, "", pct);
    if (pct >= 100)
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
    struct progress prog = {0, -1};

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
