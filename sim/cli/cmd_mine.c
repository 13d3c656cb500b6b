/*
 * cmd_mine — `setm mine` (search nonces for any header), `setm devices` (OpenCL platforms and
 * devices, the CPU backend) and `setm bench mine` (nonce-search throughput per backend and path).
 * Only this file prints; everything it reports comes from mine/mine.h.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "mine/mine.h"

static const char mine_usage[] =
    "usage: setm mine --header HEX160 [--bits BITS | --target HEX64] [--start N] [--count M]\n"
    "                 [--backend auto|opencl|cpu] [--threads N] [--platform SEL] [--device SEL]\n"
    "                 [--cpu-path auto|portable|sha-ni]\n"
    "\n"
    "Search the nonces start, start+1, ... (count of them, modulo 2^32) of an 80-byte Bitcoin-\n"
    "layout header for the first whose SHA-256d, read as a little-endian number, is <= the target.\n"
    "A count above 2^32 rolls the header time: offset o tries time + o / 2^32 with nonce\n"
    "start + o mod 2^32, in that (roll, nonce) order, as Bitcoin miners roll the time.\n"
    "\n"
    "  --header HEX160  the serialized header (its own nonce is ignored)\n"
    "  --bits BITS      compact target, e.g. 0x1d00ffff (default: the header's bits field)\n"
    "  --target HEX64   full target in display order (most significant byte first)\n"
    "  --start N        first nonce (default 0)\n"
    "  --count M        how many (roll, nonce) pairs, 1..7200 x 2^32 (default: all 2^32 nonces)\n"
    "  --backend B      auto (an OpenCL device if one works, else CPU), opencl or cpu\n"
    "  --threads N      CPU worker threads, 0 = every core (default 0)\n"
    "  --platform SEL   OpenCL platform by index or name substring\n"
    "  --device SEL     OpenCL device by index or name substring\n"
    "  --cpu-path P     CPU path: auto, portable or sha-ni (default auto)\n"
    "\n"
    "Prints nonce, hash (display order, as block explorers show it), attempts (nonces up to and\n"
    "including the winner), the time roll when the count exceeds 2^32, and the backend. A search\n"
    "expected to last more than 5 s says so first. Exit 0 found, 1 none in the range, 2 bad\n"
    "input or unusable requested backend.\n";

static const char devices_usage[] =
    "usage: setm devices [--check]\n"
    "\n"
    "List OpenCL platforms and devices (indices usable with --platform/--device and the\n"
    "mine.platform/mine.device scenario keys) and the CPU backend's paths.\n"
    "\n"
    "  --check  build the kernel on every device and run its self-test\n";

static const char bench_usage[] =
    "usage: setm bench mine [--nonces N] [--opencl-nonces N] [--threads N] [--platform SEL]\n"
    "                       [--device SEL] [--cl-vector W] [--no-opencl]\n"
    "\n"
    "Time a fixed number of nonces (an unreachable target, so the whole range is hashed) on each\n"
    "available backend and path: CPU portable 1 thread, CPU SHA-NI 1 thread, every CPU path on\n"
    "all threads, and OpenCL. One line per measurement:\n"
    "  bench mine path=P threads=T nonces=N seconds=S mnonce_s=R mnonce_s_per_thread=R1\n"
    "Then auto against the CPU and OpenCL alone on scenario-shaped work (searches of distinct\n"
    "headers: 256 at 12 zero bits, 8 at 20, 2 at 24; backend construction included; opencl_s = -1 when\n"
    "there is no device; with --nonces, 16 searches at 12 bits only):\n"
    "  bench mine auto bits=B searches=K cpu_s=S opencl_s=S auto_s=S auto_vs_best=R\n"
    "      auto_searches=one|both/CPU+DEVICE (whether auto built the device; searches on each)\n"
    "\n"
    "  --nonces N    nonces per measurement (default: about a second of work per path)\n"
    "  --opencl-nonces N  nonces of the OpenCL measurement (default: --nonces, else 2^26; a\n"
    "                GPU needs 2^32 to be measured past its launch cost)\n"
    "  --threads N   threads of the all-threads lines, 0 = every core (default 0)\n"
    "  --platform, --device  choose the OpenCL device as for setm mine\n"
    "  --cl-vector W  OpenCL nonces per work-item: 1, 2, 4, 8 or 16 (default: per device)\n"
    "  --no-opencl   skip the OpenCL measurement\n";

/* Options shared by mine and bench mine. */
enum {
    OPT_HEADER = 256,
    OPT_BITS,
    OPT_TARGET,
    OPT_START,
    OPT_COUNT,
    OPT_BACKEND,
    OPT_THREADS,
    OPT_PLATFORM,
    OPT_DEVICE,
    OPT_CPU_PATH,
    OPT_CHECK,
    OPT_NONCES,
    OPT_NO_OPENCL,
    OPT_CL_VECTOR,
    OPT_CL_NONCES,
    OPT_HELP
};

/* Parse a whole unsigned number from min to max, or print usage (naming the range) and return 2. */
static int parse_num(const char *cmd, const char *usage, const char *flag, const char *s,
                     unsigned long long min, unsigned long long max, unsigned long long *out)
{
    if (cli_parse_u64(s, out) || *out < min || *out > max)
        return cli_usage_error(cmd, usage, "%s '%s': expected a number from %llu to %llu", flag,
                               s, min, max);
    return 0;
}

int cli_mine(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"header", required_argument, NULL, OPT_HEADER},
        {"bits", required_argument, NULL, OPT_BITS},
        {"target", required_argument, NULL, OPT_TARGET},
        {"start", required_argument, NULL, OPT_START},
        {"count", required_argument, NULL, OPT_COUNT},
        {"backend", required_argument, NULL, OPT_BACKEND},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"platform", required_argument, NULL, OPT_PLATFORM},
        {"device", required_argument, NULL, OPT_DEVICE},
        {"cpu-path", required_argument, NULL, OPT_CPU_PATH},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0}};
    const char *hex = NULL, *bits_s = NULL, *target_s = NULL;
    unsigned long long start = 0, count = 1ULL << 32, v;
    unsigned char header[MINE_HEADER_LEN], target[MINE_TARGET_LEN];
    struct mine_opts opts;
    struct mine_result res;
    struct mine *m = NULL;
    struct err e = {0};
    char hash_hex[2 * MINE_HASH_LEN + 1];
    int c, rc;

    mine_opts_init(&opts);
    opts.notice = mine_notice_stderr;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_HEADER: hex = optarg; break;
        case OPT_BITS: bits_s = optarg; break;
        case OPT_TARGET: target_s = optarg; break;
        case OPT_START:
            if ((rc = parse_num("mine", mine_usage, "--start", optarg, 0, 0xffffffffULL, &start)))
                return rc;
            break;
        case OPT_COUNT:
            if ((rc = parse_num("mine", mine_usage, "--count", optarg, 1, MINE_SEARCH_MAX, &count)))
                return rc;
            break;
        case OPT_BACKEND:
            if (mine_backend_parse(optarg, &opts.backend, &e))
                return cli_usage_error("mine", mine_usage, "--backend %s", e.msg);
            break;
        case OPT_THREADS:
            if ((rc = parse_num("mine", mine_usage, "--threads", optarg, 0, 256, &v)))
                return rc;
            opts.threads = (unsigned)v;
            break;
        case OPT_PLATFORM: opts.platform = optarg; break;
        case OPT_DEVICE: opts.device = optarg; break;
        case OPT_CPU_PATH:
            if (mine_cpu_path_parse(optarg, &opts.cpu_path, &e))
                return cli_usage_error("mine", mine_usage, "--cpu-path %s", e.msg);
            break;
        case OPT_HELP: fputs(mine_usage, stdout); return 0;
        case ':':
            return cli_usage_error("mine", mine_usage, "%s needs a value", argv[optind - 1]);
        default:
            return cli_usage_error("mine", mine_usage, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error("mine", mine_usage, "unexpected argument '%s'", argv[optind]);
    if (!hex)
        return cli_usage_error("mine", mine_usage, "--header is required");
    if (bits_s && target_s)
        return cli_usage_error("mine", mine_usage, "give --bits or --target, not both");
    if (mine_header_from_hex(hex, header, &e))
        return cli_usage_error("mine", mine_usage, "--header: %s", e.msg);
    if (target_s) {
        if (mine_target_from_hex(target_s, target, &e))
            return cli_usage_error("mine", mine_usage, "--target: %s", e.msg);
    } else {
        unsigned long long bits = mine_header_u32(header, MINE_HDR_BITS);
        if (bits_s && cli_parse_u64(bits_s, &bits))
            return cli_usage_error("mine", mine_usage, "--bits '%s': expected a number", bits_s);
        if (bits > 0xffffffffULL)
            return cli_usage_error("mine", mine_usage, "--bits '%s': more than 32 bits", bits_s);
        if (mine_target_from_bits((uint32_t)bits, target, &e))
            return cli_usage_error("mine", mine_usage, "%s%s", bits_s ? "--bits: " : "header ",
                                   e.msg);
    }

    m = mine_new(&opts, &e);
    if (!m)
        return cli_fail("mine", &e);
    if (mine_note(m)[0])
        fprintf(stderr, "setm mine: %s\n", mine_note(m));
    rc = mine_search_rolled(m, header, target, (uint32_t)start, count, &res, &e);
    if (rc == 0) {
        mine_hash_to_hex(res.hash, hash_hex);
        printf("nonce    %u\nhash     %s\nattempts %llu\n", (unsigned)res.nonce, hash_hex,
               (unsigned long long)res.attempts);
        if (count > (1ULL << 32))
            printf("roll     %u\ntime     %u\n", (unsigned)res.roll,
                   (unsigned)mine_header_u32(header, MINE_HDR_TIME));
        printf("backend  %s (%s)\n", mine_backend_name(m), mine_device_desc(m));
    } else if (rc == ERR_NOSOLUTION) {
        printf("nonce    none\nattempts %llu\nbackend  %s (%s)\n",
               (unsigned long long)res.attempts, mine_backend_name(m), mine_device_desc(m));
    }
    mine_free(m);
    return rc ? cli_fail("mine", &e) : 0;
}

int cli_devices(int argc, char **argv)
{
    static const struct option longopts[] = {{"check", no_argument, NULL, OPT_CHECK},
                                             {"help", no_argument, NULL, OPT_HELP},
                                             {NULL, 0, NULL, 0}};
    struct mine_cl_device *devs = NULL;
    size_t n = 0;
    struct err e = {0};
    struct mine_opts opts;
    struct mine *m;
    int c, check = 0;
    unsigned last_platform = ~0U;

    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_CHECK: check = 1; break;
        case OPT_HELP: fputs(devices_usage, stdout); return 0;
        default:
            return cli_usage_error("devices", devices_usage, "unknown option '%s'",
                                   argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error("devices", devices_usage, "unexpected argument '%s'", argv[optind]);

    if (mine_cl_devices(&devs, &n, &e))
        printf("OpenCL: %s\n", e.msg);
    for (size_t i = 0; i < n; i++) {
        const struct mine_cl_device *d = &devs[i];
        if (d->platform != last_platform) {
            printf("OpenCL platform %u: %s\n", d->platform, d->platform_name);
            last_platform = d->platform;
        }
        printf("  device %u: %s [%s] %s, %u compute units, work-group <= %zu, %.1f GiB\n",
               d->index, d->name, d->type, d->version, d->compute_units, d->max_work_group,
               (double)d->global_mem / (1024.0 * 1024.0 * 1024.0));
        if (check) {
            char psel[16], dsel[16];
            snprintf(psel, sizeof psel, "%u", d->platform);
            snprintf(dsel, sizeof dsel, "%u", d->index);
            mine_opts_init(&opts);
            opts.backend = MINE_BACKEND_OPENCL;
            opts.platform = psel;
            opts.device = dsel;
            err_clear(&e);
            m = mine_new(&opts, &e);
            printf("    check: %s%s\n", m ? "kernel built, self-test passed" : "unusable: ",
                   m ? "" : e.msg);
            mine_free(m);
        }
    }
    free(devs);

    mine_opts_init(&opts);
    opts.backend = MINE_BACKEND_CPU;
    err_clear(&e);
    m = mine_new(&opts, &e);
    if (!m)
        return cli_fail("devices", &e);
    printf("CPU backend: %s; paths: portable%s\n", mine_device_desc(m),
           mine_cpu_has_shani() ? ", sha-ni" : " (no SHA-NI on this CPU)");
    mine_free(m);
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* One measurement: build the backend, hash `nonces` nonces of an unreachable target, print. */
static int bench_one(const struct mine_opts *opts, unsigned long long nonces, const char *label)
{
    /* An arbitrary header (the genesis block's first 76 bytes); target 1 is met by no hash in
     * practice, so every nonce is tried. */
    static const char header_hex[] =
        "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12"
        "b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c";
    unsigned char header[MINE_HEADER_LEN], target[MINE_TARGET_LEN];
    struct mine_result res;
    struct err e = {0};
    struct mine *m;
    double t0, dt;
    int rc;

    mine_header_from_hex(header_hex, header, NULL);
    mine_target_from_bits(0x01010000U, target, NULL);
    m = mine_new(opts, &e);
    if (!m) {
        printf("# %s: unavailable: %s\n", label, e.msg);
        return 0;
    }
    t0 = now_s();
    rc = mine_search(m, header, target, 0, nonces, &res, &e);
    dt = now_s() - t0;
    if (rc != ERR_NOSOLUTION) {
        fprintf(stderr, "setm bench mine: %s: %s\n", label,
                rc ? e.msg : "found a nonce for an unreachable target");
        mine_free(m);
        return rc ? err_exit_code(rc) : 1;
    }
    unsigned threads = mine_threads(m);
    printf("bench mine path=%s threads=%u nonces=%llu seconds=%.3f mnonce_s=%.2f "
           "mnonce_s_per_thread=%.2f\n",
           mine_backend_name(m), threads, nonces, dt, (double)nonces / dt / 1e6,
           (double)nonces / dt / 1e6 / threads);
    printf("# %s: %s\n", mine_backend_name(m), mine_device_desc(m));
    fflush(stdout);
    mine_free(m);
    return 0;
}

/* A scenario-shaped workload: `searches` searches of distinct headers over all 2^32 nonces at
 * a target of `bits` leading zero bits, mine_new included (a run pays for it too). Returns the
 * seconds, or a negative value when the backend is unavailable. */
static double bench_workload(const struct mine_opts *o, int bits, unsigned searches,
                             char *name, size_t len)
{
    static const char header_hex[] =
        "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12"
        "b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c";
    unsigned char header[MINE_HEADER_LEN], target[MINE_TARGET_LEN];
    struct mine_result res;
    struct err e = {0};
    struct mine *m;
    double t0 = now_s();

    mine_header_from_hex(header_hex, header, NULL);
    /* target = 2^(256 - bits) - 1, little-endian bytes */
    memset(target, 0, sizeof target);
    for (int b = 0; b < 256 - bits; b++)
        target[b / 8] |= (unsigned char)(1U << (b % 8));
    m = mine_new(o, &e);
    if (!m)
        return -1;
    for (unsigned i = 0; i < searches; i++) {
        mine_header_set_u32(header, MINE_HDR_TIME, 1231006505U + i);
        int rc = mine_search(m, header, target, 0, UINT64_C(1) << 32, &res, &e);
        if (rc && rc != ERR_NOSOLUTION) {
            mine_free(m);
            return -1;
        }
    }
    uint64_t ncpu = 0, ndev = 0;
    mine_search_counts(m, &ncpu, &ndev);
    snprintf(name, len, "%s/%llu+%llu", strstr(mine_device_desc(m), " + ") ? "both" : "one",
             (unsigned long long)ncpu, (unsigned long long)ndev);
    mine_free(m);
    return now_s() - t0;
}

/* auto against each backend alone on scenario-shaped workloads: one line per difficulty. */
static void bench_auto(unsigned threads, const char *platform, const char *device, unsigned vw,
                       int quick)
{
    static const struct {
        int bits;
        unsigned searches;
    } loads[] = {{12, 256}, {20, 8}, {24, 2}};
    size_t nloads = quick ? 1 : sizeof loads / sizeof loads[0];

    for (size_t k = 0; k < nloads; k++) {
        struct mine_opts o;
        double t[3];
        char names[3][64];
        unsigned searches = quick ? 16 : loads[k].searches;
        for (int b = 0; b < 3; b++) {
            mine_opts_init(&o);
            o.backend = b == 0 ? MINE_BACKEND_CPU : b == 1 ? MINE_BACKEND_OPENCL : MINE_BACKEND_AUTO;
            o.threads = threads;
            o.platform = platform;
            o.device = device;
            o.cl_vector = vw;
            t[b] = bench_workload(&o, loads[k].bits, searches, names[b], sizeof names[b]);
        }
        double best = t[0];
        if (t[1] >= 0 && t[1] < best)
            best = t[1];
        printf("bench mine auto bits=%d searches=%u cpu_s=%.3f opencl_s=%.3f auto_s=%.3f "
               "auto_vs_best=%.2f auto_searches=%s\n",
               loads[k].bits, searches, t[0], t[1], t[2], best > 0 ? t[2] / best : 0.0,
               t[2] >= 0 ? names[2] : "none");
        fflush(stdout);
    }
}

int cli_bench_mine(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"nonces", required_argument, NULL, OPT_NONCES},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"platform", required_argument, NULL, OPT_PLATFORM},
        {"device", required_argument, NULL, OPT_DEVICE},
        {"no-opencl", no_argument, NULL, OPT_NO_OPENCL},
        {"cl-vector", required_argument, NULL, OPT_CL_VECTOR},
        {"opencl-nonces", required_argument, NULL, OPT_CL_NONCES},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0}};
    unsigned long long nonces = 0, threads = 0, vw = 0, cl_nonces = 0;
    const char *platform = NULL, *device = NULL;
    int c, rc, no_opencl = 0;
    struct mine_opts o;

    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_NONCES:
            if ((rc = parse_num("bench mine", bench_usage, "--nonces", optarg, 1, 1ULL << 32,
                                &nonces)))
                return rc;
            break;
        case OPT_THREADS:
            if ((rc = parse_num("bench mine", bench_usage, "--threads", optarg, 0, 256, &threads)))
                return rc;
            break;
        case OPT_PLATFORM: platform = optarg; break;
        case OPT_DEVICE: device = optarg; break;
        case OPT_NO_OPENCL: no_opencl = 1; break;
        case OPT_CL_VECTOR:
            if ((rc = parse_num("bench mine", bench_usage, "--cl-vector", optarg, 1, 16, &vw)))
                return rc;
            if (vw != 1 && vw != 2 && vw != 4 && vw != 8 && vw != 16)
                return cli_usage_error("bench mine", bench_usage,
                                       "--cl-vector %llu: expected 1, 2, 4, 8 or 16", vw);
            break;
        case OPT_CL_NONCES:
            if ((rc = parse_num("bench mine", bench_usage, "--opencl-nonces", optarg, 1,
                                1ULL << 32, &cl_nonces)))
                return rc;
            break;
        case OPT_HELP: fputs(bench_usage, stdout); return 0;
        case ':':
            return cli_usage_error("bench mine", bench_usage, "%s needs a value",
                                   argv[optind - 1]);
        default:
            return cli_usage_error("bench mine", bench_usage, "unknown option '%s'",
                                   argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error("bench mine", bench_usage, "unexpected argument '%s'",
                               argv[optind]);

    printf("# setm bench mine: SHA-256d nonce search over a fixed nonce count, unreachable "
           "target (Mnonce/s = million nonces per second)\n");
    /* portable x1, SHA-NI x1, portable and SHA-NI on all threads, OpenCL. */
    static const struct {
        enum mine_cpu_path path;
        int all_threads;
        unsigned long long nonces;
        const char *label;
    } cpu_runs[] = {
        {MINE_CPU_PATH_PORTABLE, 0, 1ULL << 22, "cpu portable, 1 thread"},
        {MINE_CPU_PATH_SHANI, 0, 1ULL << 25, "cpu sha-ni, 1 thread"},
        {MINE_CPU_PATH_PORTABLE, 1, 1ULL << 23, "cpu portable, all threads"},
        {MINE_CPU_PATH_SHANI, 1, 1ULL << 26, "cpu sha-ni, all threads"},
    };
    for (size_t i = 0; i < sizeof cpu_runs / sizeof cpu_runs[0]; i++) {
        mine_opts_init(&o);
        o.backend = MINE_BACKEND_CPU;
        o.cpu_path = cpu_runs[i].path;
        o.threads = cpu_runs[i].all_threads ? (unsigned)threads : 1;
        if ((rc = bench_one(&o, nonces ? nonces : cpu_runs[i].nonces, cpu_runs[i].label)))
            return rc;
    }
    if (!no_opencl) {
        mine_opts_init(&o);
        o.backend = MINE_BACKEND_OPENCL;
        o.platform = platform;
        o.device = device;
        o.cl_vector = (unsigned)vw;
        if ((rc = bench_one(&o, cl_nonces ? cl_nonces : nonces ? nonces : 1ULL << 26, "opencl")))
            return rc;
    }
    if (!no_opencl)
        bench_auto((unsigned)threads, platform, device, (unsigned)vw, nonces != 0);
    return 0;
}
