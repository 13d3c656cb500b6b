/*
 * mine — the backend-neutral nonce search: option parsing, backend choice (auto falls back from
 * OpenCL to the CPU), range checks, and the host-side confirmation of every answer.
 *
 * Backends are tables (mine/backend.h): mine.c holds up to two slots, the OpenCL device and the
 * CPU, and never branches on which it has. Under auto both are live and each search goes to the
 * slot expected to finish first: overhead + expected work / rate, with the expected work of a
 * lowest-first search E[min(G, count)] and rates measured once at mine_new. Any choice gives the
 * same answer (every backend returns the lowest offset), so the choice changes speed only.
 *
 * Invariant: a struct mine holds at least one working backend, each of which passed its
 * known-answer self-test when it was built; m->last points at a live slot; and every nonce
 * mine_search reports has been re-hashed here with the portable code and meets the target.
 */
#include "mine/mine.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/sha256.h"
#include "mine/backend.h"

/* One live backend: its operations, its object, and what the calibration measured. */
struct mine_slot {
    const struct mine_backend_ops *ops; /* NULL = slot empty */
    void *obj;
    double rate;     /* nonces per second on a large search; 0 = not measured */
    double overhead; /* seconds a minimal search costs (launch, thread start) */
    double sum_done, sum_dt; /* real searches since the rate was last refreshed */
    uint64_t searches;
};

struct mine {
    struct mine_slot dev;   /* the OpenCL backend, or empty */
    struct mine_slot cpu;   /* the CPU backend, or empty (backend opencl) */
    struct mine_slot *last; /* the slot of the most recent search (initially the preferred one) */
    char note[ERR_MSG_MAX + 64]; /* why auto did not take OpenCL, or left it mid-run */
    char desc[2 * MINE_DESC_MAX + 4]; /* both backends' descriptions under auto */
    int fallback_ok;        /* backend auto: a failing device hands over to the CPU */
    unsigned threads;       /* for building the CPU backend on a fallback */
    enum mine_cpu_path cpu_path;
    uint64_t searches;      /* searches so far (every backend) */
    uint64_t fault_after;   /* test hook: OpenCL fails from this search on (0 = never) */
    const volatile sig_atomic_t *stop;
    void (*notice)(void *ctx, const char *msg);
    void *notice_ctx;
    /* auto before the OpenCL probe: the device options (copied), the CPU seconds after which to
     * probe, and the CPU seconds searches were expected to take so far. */
    int probe_pending;
    double probe_s, cpu_work; /* cpu_work: expected nonces of the searches that count */
    char *platform, *device, *kernel_dir;
    unsigned cl_vector;
    uint64_t span; /* nonces per time roll: 2^32, or the test hook's SETM_TEST_ROLL_SPAN */
};

void mine_opts_init(struct mine_opts *o)
{
    memset(o, 0, sizeof *o);
    o->backend = MINE_BACKEND_AUTO;
    o->cpu_path = MINE_CPU_PATH_AUTO;
    o->probe_s = -1;
}

int mine_backend_parse(const char *s, enum mine_backend *out, struct err *e)
{
    if (s && !strcmp(s, "auto"))
        *out = MINE_BACKEND_AUTO;
    else if (s && !strcmp(s, "opencl"))
        *out = MINE_BACKEND_OPENCL;
    else if (s && !strcmp(s, "cpu"))
        *out = MINE_BACKEND_CPU;
    else
        return err_set(e, ERR_USAGE, "backend '%s': expected auto, opencl or cpu", s ? s : "");
    return 0;
}

int mine_cpu_path_parse(const char *s, enum mine_cpu_path *out, struct err *e)
{
    if (s && !strcmp(s, "auto"))
        *out = MINE_CPU_PATH_AUTO;
    else if (s && !strcmp(s, "portable"))
        *out = MINE_CPU_PATH_PORTABLE;
    else if (s && !strcmp(s, "sha-ni"))
        *out = MINE_CPU_PATH_SHANI;
    else
        return err_set(e, ERR_USAGE, "CPU path '%s': expected auto, portable or sha-ni",
                       s ? s : "");
    return 0;
}

int mine_roll_span_env(uint64_t *span, struct err *e)
{
    const char *s = getenv("SETM_TEST_ROLL_SPAN");
    char *end = NULL;
    unsigned long long v;

    *span = UINT64_C(1) << 32;
    if (!s || !*s)
        return 0;
    v = strtoull(s, &end, 10);
    if (!end || *end || s[0] == '-' || v < 1 || v > (UINT64_C(1) << 32))
        return err_set(e, ERR_USAGE, "SETM_TEST_ROLL_SPAN = '%s': expected nonces per time roll, "
                       "1..4294967296", s);
    *span = v;
    return 0;
}

int mine_cpu_has_shani(void)
{
    return mine_shani_available();
}

void mine_work_init(struct mine_work *w, const unsigned char header[MINE_HEADER_LEN],
                    const unsigned char target[MINE_TARGET_LEN], uint32_t start)
{
    crypto_sha256_iv(w->mid);
    crypto_sha256_compress(w->mid, header);
    for (int i = 0; i < 3; i++) {
        const unsigned char *p = header + 64 + 4 * i;
        w->tail[i] = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    }
    for (int i = 0; i < 8; i++) {
        const unsigned char *p = target + 4 * i;
        w->target[i] = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                       (uint32_t)p[3] << 24;
    }
    w->start = start;
    w->stop = NULL;
}

#define MINE_LAUNCH_S 0.001 /* seconds: about what one OpenCL launch and read-back cost */

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Time one search of count offsets that no nonce can meet (target zero needs a zero hash). */
static int time_search(struct mine_slot *s, uint64_t count, double *secs)
{
    struct mine_work w;
    unsigned char hdr[MINE_HEADER_LEN] = {1}, target[MINE_TARGET_LEN] = {0};
    uint64_t first;
    struct err e = {0};
    double t0;

    mine_work_init(&w, hdr, target, 0);
    t0 = mono_now();
    if (s->ops->search(s->obj, &w, count, &first, &e))
        return -1;
    *secs = mono_now() - t0;
    return 0;
}

/* Measure a slot: overhead from the fastest of three one-nonce searches, rate from a search
 * grown until it lasts min_s (so a fast device is not judged by its launch cost). */
static void calibrate_slot(struct mine_slot *s, double min_s)
{
    double t = 0, best = 1e9;
    uint64_t n = UINT64_C(1) << 14;

    s->rate = 0;
    for (int i = 0; i < 3; i++)
        if (time_search(s, 1, &t) == 0 && t < best)
            best = t;
    s->overhead = best < 1e9 ? best : 0;
    for (;;) {
        if (time_search(s, n, &t))
            return;
        if (t >= min_s || n >= (UINT64_C(1) << 32))
            break;
        n = n * 4 > (UINT64_C(1) << 32) ? UINT64_C(1) << 32 : n * 4;
    }
    s->rate = (double)n / (t > s->overhead ? t - s->overhead : t);
}

static void calibrate(struct mine *m)
{
    if (m->dev.ops && m->dev.rate <= 0)
        calibrate_slot(&m->dev, 0.02);
    if (m->cpu.ops && m->cpu.rate <= 0)
        calibrate_slot(&m->cpu, 0.02);
}

/* Expected offsets searched before the answer: E[min(G, count)] for a geometric G with success
 * probability p = 1 / expected attempts, i.e. (1 - (1-p)^count) / p. */
static double expected_work(const unsigned char target[MINE_TARGET_LEN], uint64_t count)
{
    double a = mine_target_expected_attempts(target);
    if (a <= 1)
        return 1;
    return -expm1((double)count * log1p(-1.0 / a)) * a;
}

static double slot_time(const struct mine_slot *s, double work)
{
    return s->rate > 0 ? s->overhead + work / s->rate : INFINITY;
}

/* The slot for this search: the only one, or under auto the one expected to finish first. */
static struct mine_slot *choose(struct mine *m, const unsigned char target[MINE_TARGET_LEN],
                                uint64_t count)
{
    if (!m->dev.ops)
        return &m->cpu;
    if (!m->cpu.ops)
        return &m->dev;
    if (m->fault_after && m->searches + 1 >= m->fault_after)
        return &m->dev; /* the injected fault strikes the device, wherever auto would go */
    double work = expected_work(target, count);
    return slot_time(&m->cpu, work) < slot_time(&m->dev, work) ? &m->cpu : &m->dev;
}

static void set_desc(struct mine *m)
{
    if (m->dev.ops && m->cpu.ops)
        snprintf(m->desc, sizeof m->desc, "%s + %s", m->dev.ops->desc(m->dev.obj),
                 m->cpu.ops->desc(m->cpu.obj));
    else if (m->dev.ops)
        snprintf(m->desc, sizeof m->desc, "%s", m->dev.ops->desc(m->dev.obj));
    else
        snprintf(m->desc, sizeof m->desc, "%s", m->cpu.ops->desc(m->cpu.obj));
}

static int cpu_slot_new(struct mine *m, struct err *e)
{
    m->cpu.obj = mine_cpu_new(m->threads, m->cpu_path, e);
    if (!m->cpu.obj)
        return e ? e->code : ERR_DEVICE;
    m->cpu.ops = &mine_cpu_ops;
    return 0;
}

static void slot_free(struct mine_slot *s)
{
    if (s->ops)
        s->ops->free(s->obj);
    memset(s, 0, sizeof *s);
}

/* Build the OpenCL slot. 0, or the error (and, when it is not ERR_NOMEM, m->note says why
 * OpenCL is not used). */
static int ocl_probe(struct mine *m, const char *platform, const char *device,
                     const char *kernel_dir, unsigned cl_vector, struct err *oe)
{
    m->dev.obj = mine_ocl_new(platform, device, kernel_dir, cl_vector, m->note, sizeof m->note, oe);
    if (!m->dev.obj) {
        snprintf(m->note, sizeof m->note, "OpenCL not used: %s", oe->msg);
        return oe->code ? oe->code : ERR_DEVICE;
    }
    m->dev.ops = &mine_ocl_ops;
    m->note[0] = '\0';
    return 0;
}

/* auto, about to probe: is there a device that could beat the CPU? A CPU OpenCL device (PoCL)
 * runs on the cores the CPU backend already uses, and its SIMD kernel measured well below the
 * SHA-NI path (3.1 vs 7.8 Mnonce/s on this machine's EPYC, `setm bench mine`): with SHA-NI and
 * only CPU devices, auto stays on the CPU without building the kernel, so it never pays a build
 * that cannot win. A platform or device named by the user is always probed. 1 = probe.
 * Set SETM_AUTO_CPU_DEVICES=1 to probe CPU devices anyway. */
static int probe_worthwhile(struct mine *m)
{
    const char *any = getenv("SETM_AUTO_CPU_DEVICES");

    if ((m->platform && *m->platform) || (m->device && *m->device) || (any && !strcmp(any, "1")))
        return 1;
    if (!m->cpu.ops || strcmp(m->cpu.ops->name(m->cpu.obj), "cpu-sha-ni") != 0)
        return 1;
    if (mine_ocl_has_accelerator(NULL, NULL))
        return 1;
    m->probe_pending = 0; /* a choice, not a failure: no note (runs would warn) */
    return 0;
}

/* auto, OpenCL not yet probed: probe it once the CPU's expected search time, this search's
 * included, passes probe_s (rent-or-buy: never more than probe_s + the probe lost against
 * either backend alone). A failed probe leaves the CPU and a note; only ERR_NOMEM is an error. */
static int maybe_probe(struct mine *m, const unsigned char target[MINE_TARGET_LEN],
                       uint64_t count, struct err *e)
{
    struct err oe = {0};
    double work, rate;

    if (!m->probe_pending)
        return 0;
    /* A search the CPU ends within MINE_LAUNCH_S no device can win (a launch and its read-back
     * cost about that), so it does not count. The CPU's rate comes from its real searches
     * (search_once); only when the pessimistic bound says "probe" is it measured on purpose. */
    work = expected_work(target, count);
    rate = m->cpu.rate > 0 ? m->cpu.rate : 1e6; /* before any measurement: a pessimistic rate */
    if (work / rate <= MINE_LAUNCH_S)
        return 0;
    m->cpu_work += work;
    if (m->cpu_work / rate <= m->probe_s)
        return 0;
    if (m->cpu.rate <= 0) {
        calibrate_slot(&m->cpu, 0.02);
        if (m->cpu.rate > 0 && m->cpu_work / m->cpu.rate <= m->probe_s)
            return 0;
    }
    if (!probe_worthwhile(m))
        return 0;
    m->probe_pending = 0;
    if (ocl_probe(m, m->platform, m->device, m->kernel_dir, m->cl_vector, &oe)) {
        if (oe.code == ERR_NOMEM)
            return err_set(e, ERR_NOMEM, "%s", oe.msg);
        return 0;
    }
    calibrate_slot(&m->dev, 0.02);
    set_desc(m);
    return 0;
}

struct mine *mine_new(const struct mine_opts *o, struct err *e)
{
    struct mine *m;
    struct err oe = {0};

    if (o->backend != MINE_BACKEND_AUTO && o->backend != MINE_BACKEND_OPENCL &&
        o->backend != MINE_BACKEND_CPU) {
        err_set(e, ERR_USAGE, "unknown backend %d", (int)o->backend);
        return NULL;
    }
    if (o->cl_vector != 0 && o->cl_vector != 1 && o->cl_vector != 2 && o->cl_vector != 4 &&
        o->cl_vector != 8 && o->cl_vector != 16) {
        err_set(e, ERR_USAGE, "OpenCL vector width %u: expected 1, 2, 4, 8 or 16", o->cl_vector);
        return NULL;
    }
    m = calloc(1, sizeof *m);
    if (!m) {
        err_set(e, ERR_NOMEM, "mine_new: out of memory");
        return NULL;
    }
    m->fallback_ok = o->backend == MINE_BACKEND_AUTO;
    m->threads = o->threads;
    m->cpu_path = o->cpu_path;
    m->stop = o->stop;
    m->notice = o->notice;
    m->notice_ctx = o->notice_ctx;
    {
        /* SETM_CPU_PATH=portable|sha-ni picks the CPU path where the caller left it on auto
         * (setm run has no flag for it): the validation suite compares the paths' chains. */
        const char *cp = getenv("SETM_CPU_PATH");
        if (cp && *cp && m->cpu_path == MINE_CPU_PATH_AUTO &&
            mine_cpu_path_parse(cp, &m->cpu_path, e)) {
            err_wrap(e, ERR_USAGE, "SETM_CPU_PATH");
            goto fail;
        }
    }
    if (mine_roll_span_env(&m->span, e))
        goto fail;
    {
        /* Fault injection for the tests of the fallback: a device error from search N on. */
        const char *f = getenv("SETM_FAULT_OPENCL_AFTER");
        if (f && *f)
            m->fault_after = strtoull(f, NULL, 10) + 1;
    }
    m->probe_s = o->probe_s;
    if (m->probe_s < 0) {
        const char *p = getenv("SETM_AUTO_PROBE_S");
        char *end = NULL;
        m->probe_s = MINE_PROBE_S_DEFAULT;
        if (p && *p) {
            double v = strtod(p, &end);
            if (end && !*end && v >= 0)
                m->probe_s = v;
        }
    }
    if (m->fault_after)
        m->probe_s = 0; /* the fault hook needs the device from the start */
    if (o->backend == MINE_BACKEND_AUTO && m->probe_s > 0) {
        m->platform = o->platform ? strdup(o->platform) : NULL;
        m->device = o->device ? strdup(o->device) : NULL;
        m->kernel_dir = o->kernel_dir ? strdup(o->kernel_dir) : NULL;
        m->cl_vector = o->cl_vector;
        if ((o->platform && !m->platform) || (o->device && !m->device) ||
            (o->kernel_dir && !m->kernel_dir)) {
            err_set(e, ERR_NOMEM, "mine_new: out of memory");
            goto fail;
        }
        m->probe_pending = 1;
    } else if (o->backend != MINE_BACKEND_CPU) {
        if (ocl_probe(m, o->platform, o->device, o->kernel_dir, o->cl_vector, &oe) &&
            (o->backend == MINE_BACKEND_OPENCL || oe.code == ERR_NOMEM)) {
            if (e)
                *e = oe;
            goto fail;
        }
    }
    if (o->backend != MINE_BACKEND_OPENCL && cpu_slot_new(m, e))
        goto fail;
    if (m->probe_pending && o->expected_nonces > 1e6 * m->probe_s) {
        /* The caller expects enough work to pay for the probe: measure the CPU and decide now. */
        calibrate_slot(&m->cpu, 0.02);
        if (m->cpu.rate > 0 && o->expected_nonces / m->cpu.rate > m->probe_s &&
            probe_worthwhile(m)) {
            m->probe_pending = 0;
            if (ocl_probe(m, o->platform, o->device, o->kernel_dir, o->cl_vector, &oe) &&
                oe.code == ERR_NOMEM) {
                if (e)
                    *e = oe;
                goto fail;
            }
        }
    }
    m->last = m->dev.ops ? &m->dev : &m->cpu;
    if (m->dev.ops && m->cpu.ops)
        calibrate(m); /* auto with both: the choice per search needs the rates */
    set_desc(m);
    return m;
fail:
    mine_free(m);
    return NULL;
}

void mine_free(struct mine *m)
{
    if (!m)
        return;
    slot_free(&m->dev);
    slot_free(&m->cpu);
    free(m->platform);
    free(m->device);
    free(m->kernel_dir);
    free(m);
}

/* One search on the current backend.  A winner is confirmed on the host with the reference code,
 * so a faulty device can never put a wrong nonce into a chain: it is an ERR_DEVICE instead. */
static int search_once(struct mine *m, const unsigned char header[MINE_HEADER_LEN],
                       const unsigned char target[MINE_TARGET_LEN], uint32_t start,
                       struct mine_work *w, uint64_t count, uint64_t *first, struct err *e)
{
    unsigned char hdr[MINE_HEADER_LEN], hash[MINE_HASH_LEN];
    struct mine_slot *s = choose(m, target, count);
    int rc;

    m->last = s;
    s->searches++;
    if (s == &m->dev && m->fault_after && m->searches + 1 >= m->fault_after)
        return err_set(e, ERR_DEVICE, "injected device fault (SETM_FAULT_OPENCL_AFTER)");
    double t0 = mono_now();
    rc = s->ops->search(s->obj, w, count, first, e);
    if (rc == 0) {
        /* Learn from real searches too (a loaded machine drifts from the calibration): offsets
         * covered over time taken, summed until 20 ms are measured (one small search measures
         * the scheduler, not the hashing), then blended into the rate. */
        s->sum_done += *first == MINE_NONE ? (double)count : (double)*first + 1;
        s->sum_dt += mono_now() - t0;
        if (s->sum_dt >= 0.02) {
            double obs = s->sum_done / s->sum_dt;
            s->rate = s->rate > 0 ? 0.5 * s->rate + 0.5 * obs : obs;
            s->sum_done = s->sum_dt = 0;
        }
    }
    if (rc || *first == MINE_NONE)
        return rc;
    if (*first >= count)
        return err_set(e, ERR_DEVICE, "%s returned offset %llu outside the range of %llu",
                       mine_backend_name(m), (unsigned long long)*first, (unsigned long long)count);
    memcpy(hdr, header, sizeof hdr);
    mine_header_set_u32(hdr, MINE_HDR_NONCE, start + (uint32_t)*first);
    crypto_sha256d(hdr, sizeof hdr, hash);
    if (!mine_hash_meets_target(hash, target))
        return err_set(e, ERR_DEVICE, "%s returned nonce %u whose hash does not meet the target",
                       mine_backend_name(m), (unsigned)(start + (uint32_t)*first));
    return 0;
}

int mine_search(struct mine *m, const unsigned char header[MINE_HEADER_LEN],
                const unsigned char target[MINE_TARGET_LEN], uint32_t start, uint64_t count,
                struct mine_result *res, struct err *e)
{
    struct mine_work w;
    unsigned char hdr[MINE_HEADER_LEN];
    uint64_t first = MINE_NONE;
    int rc;

    memset(res, 0, sizeof *res);
    if (count == 0 || count > (UINT64_C(1) << 32))
        return err_set(e, ERR_USAGE, "nonce count %llu out of range 1..2^32",
                       (unsigned long long)count);
    if (m->stop && __atomic_load_n(m->stop, __ATOMIC_RELAXED)) /* as mine_work_stopped */
        return err_set(e, ERR_INTERRUPTED, "nonce search stopped by a signal");
    if ((rc = maybe_probe(m, target, count, e)))
        return rc;
    mine_work_init(&w, header, target, start);
    w.stop = m->stop;
    rc = search_once(m, header, target, start, &w, count, &first, e);
    m->searches++;
    if (rc == ERR_DEVICE && m->last == &m->dev && m->fallback_ok) {
        /* The device failed mid-run: the CPU finds the same lowest nonce, so the run goes on
         * unchanged apart from speed. */
        char why[ERR_MSG_MAX];
        snprintf(why, sizeof why, "%s", e ? e->msg : "device error");
        if (!m->cpu.ops && cpu_slot_new(m, e))
            return e ? e->code : ERR_NOMEM;
        slot_free(&m->dev);
        set_desc(m);
        snprintf(m->note, sizeof m->note, "OpenCL failed during the run (%s); continued on the CPU",
                 why);
        err_clear(e);
        first = MINE_NONE;
        rc = search_once(m, header, target, start, &w, count, &first, e);
    }
    if (rc)
        return rc;
    if (first == MINE_NONE) {
        res->attempts = count;
        return err_set(e, ERR_NOSOLUTION, "no nonce in %llu from %u meets the target",
                       (unsigned long long)count, (unsigned)start);
    }
    memcpy(hdr, header, sizeof hdr);
    mine_header_set_u32(hdr, MINE_HDR_NONCE, start + (uint32_t)first);
    crypto_sha256d(hdr, sizeof hdr, res->hash);
    res->found = 1;
    res->nonce = start + (uint32_t)first;
    res->attempts = first + 1;
    return 0;
}

static int search_span(struct mine *m, unsigned char header[MINE_HEADER_LEN],
                       const unsigned char target[MINE_TARGET_LEN], uint32_t start,
                       uint64_t count, uint64_t span, int announce, struct mine_result *res,
                       struct err *e)
{
    unsigned char hdr[MINE_HEADER_LEN];
    uint32_t time0 = mine_header_u32(header, MINE_HDR_TIME);
    uint64_t done = 0;
    int rc = ERR_NOSOLUTION;

    memset(res, 0, sizeof *res);
    if (span == 0 || span > (UINT64_C(1) << 32))
        return err_set(e, ERR_USAGE, "roll span %llu out of range 1..2^32",
                       (unsigned long long)span);
    if (count == 0 || count > MINE_ROLL_MAX * span)
        return err_set(e, ERR_USAGE, "search of %llu (time roll, nonce) pairs out of range 1..%u "
                       "x %llu", (unsigned long long)count, MINE_ROLL_MAX,
                       (unsigned long long)span);
    if (m->notice && announce) {
        double secs = mine_expected_seconds(m, target);
        double work = expected_work(target, count);
        if (secs > 5 && isfinite(secs)) {
            char msg[256];
            snprintf(msg, sizeof msg,
                     "nonce search expected to take about %.0f s (2^%.1f nonces at %.1f M/s on "
                     "%s)%s",
                     work / mine_rate(m), log2(work), mine_rate(m) / 1e6,
                     m->dev.ops ? "opencl" : m->cpu.ops->name(m->cpu.obj),
                     work < mine_target_expected_attempts(target) * 0.99
                         ? "; the range may well hold no solution" : "");
            m->notice(m->notice_ctx, msg);
        }
    }
    memcpy(hdr, header, sizeof hdr);
    for (uint32_t roll = 0; done < count; roll++) {
        uint64_t n = count - done < span ? count - done : span;
        mine_header_set_u32(hdr, MINE_HDR_TIME, time0 + roll);
        rc = mine_search(m, hdr, target, start, n, res, e);
        if (rc == 0) {
            res->roll = roll;
            res->attempts += done;
            mine_header_set_u32(hdr, MINE_HDR_NONCE, res->nonce);
            memcpy(header, hdr, sizeof hdr);
            return 0;
        }
        if (rc != ERR_NOSOLUTION)
            return rc;
        done += n;
    }
    res->attempts = count;
    return rc;
}

int mine_search_span(struct mine *m, unsigned char header[MINE_HEADER_LEN],
                     const unsigned char target[MINE_TARGET_LEN], uint32_t start, uint64_t count,
                     uint64_t span, struct mine_result *res, struct err *e)
{
    return search_span(m, header, target, start, count, span, 1, res, e);
}

int mine_search_rolled(struct mine *m, unsigned char header[MINE_HEADER_LEN],
                       const unsigned char target[MINE_TARGET_LEN], uint32_t start,
                       uint64_t count, struct mine_result *res, struct err *e)
{
    return search_span(m, header, target, start, count, m->span, 1, res, e);
}

int mine_search_rolled_quiet(struct mine *m, unsigned char header[MINE_HEADER_LEN],
                             const unsigned char target[MINE_TARGET_LEN], uint32_t start,
                             uint64_t count, struct mine_result *res, struct err *e)
{
    return search_span(m, header, target, start, count, m->span, 0, res, e);
}

uint64_t mine_roll_span(const struct mine *m)
{
    return m->span;
}

double mine_rate(struct mine *m)
{
    calibrate(m);
    double r = m->dev.rate > m->cpu.rate ? m->dev.rate : m->cpu.rate;
    return r;
}

double mine_expected_seconds(struct mine *m, const unsigned char target[MINE_TARGET_LEN])
{
    double r = mine_rate(m);
    return r > 0 ? mine_target_expected_attempts(target) / r : INFINITY;
}

void mine_notice_stderr(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "setm: note: %s\n", msg);
}

void mine_search_counts(const struct mine *m, uint64_t *cpu, uint64_t *device)
{
    *cpu = m->cpu.searches;
    *device = m->dev.searches;
}

const char *mine_backend_name(const struct mine *m)
{
    return m->last->ops->name(m->last->obj);
}

const char *mine_device_desc(const struct mine *m)
{
    return m->desc;
}

const char *mine_note(const struct mine *m)
{
    return m->note;
}

unsigned mine_threads(const struct mine *m)
{
    return m->last->ops->threads(m->last->obj);
}
