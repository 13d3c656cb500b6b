/*
 * mine/mine_cpu — the CPU backend: a persistent worker pool (core/pool.h, started once in
 * mine_cpu_new and kept across searches) over one scan path (portable C from kernels/sha256.cl in
 * mine_portable.c, or SHA-NI from mine_shani.c; both reject early in the second hash).
 *
 * A search scans its first CPU_HEAD offsets in the caller (an easy search ends there without
 * waking a thread), then is one pool batch whose item k is the k-th chunk of CPU_CHUNK offsets
 * after them; the pool's threads claim items in ascending order, an item scans its chunk only up
 * to the chunk's first hit, publishes it with an atomic minimum and stops the batch.  Invariant
 * giving the lowest offset for any thread count: the head holds no hit when the batch starts,
 * and the pool runs every item below the lowest stopping item to completion (pool.h), so every
 * chunk below the final best was scanned and held no hit.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/pool.h"
#include "mine/backend.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#define CPU_CHUNK 16384 /* offsets per claim: ~1 ms of SHA-NI work, so claims cost nothing */
#define CPU_HEAD 4096   /* offsets scanned by the caller alone before the pool wakes: an easy
                           search ends there without waking a thread (waking costs more than
                           the search, and auto learns the CPU's rate from search times) */

typedef uint64_t (*scan_fn)(const struct mine_work *w, uint64_t begin, uint64_t end);

struct mine_cpu {
    unsigned threads;         /* threads per search, the caller's included, >= 1 */
    struct pool *workers;     /* threads - 1 workers, started once; owned */
    scan_fn scan;             /* the path in use */
    const char *name;         /* "cpu-sha-ni" or "cpu-portable" */
    char desc[MINE_DESC_MAX]; /* CPU model, threads, path */
};

/* One search: the batch's context, read-only but for the atomic minimum. */
struct cpu_job {
    const struct mine_work *w;
    scan_fn scan;
    uint64_t count;
    uint64_t base;         /* item k covers [base + k * CPU_CHUNK, ...) */
    _Atomic uint64_t best; /* lowest hit so far, MINE_NONE when none */
};

static void cpu_model(char *out, size_t len)
{
#if defined(__x86_64__) || defined(__i386__)
    unsigned int r[12];
    if (__get_cpuid_max(0x80000000U, NULL) >= 0x80000004U) {
        for (unsigned i = 0; i < 3; i++)
            __get_cpuid(0x80000002U + i, &r[4 * i], &r[4 * i + 1], &r[4 * i + 2], &r[4 * i + 3]);
        char brand[49];
        memcpy(brand, r, 48);
        brand[48] = '\0';
        char *p = brand, *end;
        while (*p == ' ')
            p++;
        end = p + strlen(p);
        while (end > p && end[-1] == ' ')
            *--end = '\0';
        snprintf(out, len, "%s", p);
        return;
    }
#endif
    snprintf(out, len, "CPU");
}

/* Item k: chunk k.  1 when it holds a hit (published in best), ERR_INTERRUPTED on a stop
 * request, 0 otherwise. */
static int cpu_chunk(void *ctx, size_t k)
{
    struct cpu_job *j = ctx;
    const uint64_t b = j->base + (uint64_t)k * CPU_CHUNK;
    const uint64_t end = b + CPU_CHUNK < j->count ? b + CPU_CHUNK : j->count;
    uint64_t hit, cur;
    if (mine_work_stopped(j->w))
        return ERR_INTERRUPTED;
    hit = j->scan(j->w, b, end);
    if (hit == MINE_NONE)
        return 0;
    cur = atomic_load(&j->best);
    while (hit < cur && !atomic_compare_exchange_weak(&j->best, &cur, hit))
        ;
    return 1;
}

int mine_cpu_search(void *cpu, const struct mine_work *w, uint64_t count, uint64_t *first,
                    struct err *e)
{
    struct mine_cpu *c = cpu;
    struct cpu_job j = {.w = w, .scan = c->scan, .count = count};
    size_t at;
    int rc;

    *first = MINE_NONE;
    if (count == 0)
        return 0;
    if (mine_work_stopped(w))
        return err_set(e, ERR_INTERRUPTED, "nonce search stopped by a signal");
    /* the head alone, here: the lowest offsets, so a hit in it is the answer */
    j.base = count < CPU_HEAD ? count : CPU_HEAD;
    *first = c->scan(w, 0, j.base);
    if (*first != MINE_NONE || j.base == count)
        return 0;
    atomic_init(&j.best, MINE_NONE);
    /* the rest chunk by chunk on the pool (also on one thread, so that a stop request is seen
     * within a chunk's time); every offset below base was scanned without a hit */
    rc = pool_run(c->workers, (size_t)((count - j.base + CPU_CHUNK - 1) / CPU_CHUNK), cpu_chunk,
                  &j, &at);
    if (rc == ERR_INTERRUPTED)
        return err_set(e, ERR_INTERRUPTED, "nonce search stopped by a signal");
    if (rc == 1)
        *first = atomic_load(&j.best);
    return 0;
}

struct mine_cpu *mine_cpu_new(unsigned threads, enum mine_cpu_path path, struct err *e)
{
    struct mine_cpu *c;
    struct err te = {0};
    char model[64];

    if (threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (unsigned)n : 1;
    }
    if (threads > 256)
        threads = 256;
    if (path == MINE_CPU_PATH_SHANI && !mine_shani_available()) {
        err_set(e, ERR_DEVICE, "CPU path sha-ni: this CPU lacks the SHA extensions (or SSE4.1)");
        return NULL;
    }
    c = calloc(1, sizeof *c);
    if (!c) {
        err_set(e, ERR_NOMEM, "mine_cpu_new: out of memory");
        return NULL;
    }
    c->threads = threads;
    if (!(c->workers = pool_new((int)threads, e)))
        goto fail;
    cpu_model(model, sizeof model);

    if (path != MINE_CPU_PATH_PORTABLE && mine_shani_available()) {
        c->scan = mine_shani_scan;
        c->name = "cpu-sha-ni";
        if (mine_selftest(mine_cpu_search, c, &te) == 0)
            goto chosen;
        if (path == MINE_CPU_PATH_SHANI) {
            err_set(e, ERR_DEVICE, "CPU path sha-ni disabled: %s", te.msg);
            goto fail;
        }
    }
    c->scan = mine_portable_scan;
    c->name = "cpu-portable";
    if (mine_selftest(mine_cpu_search, c, e)) {
        err_wrap(e, ERR_DEVICE, "CPU path portable disabled");
        goto fail;
    }
chosen:
    snprintf(c->desc, sizeof c->desc, "%s, %u thread%s, %s%s%.120s", model, threads,
             threads == 1 ? "" : "s", c->scan == mine_portable_scan ? "portable C" : "SHA-NI",
             te.code ? "; SHA-NI disabled: " : "", te.code ? te.msg : "");
    return c;
fail:
    pool_free(c->workers);
    free(c);
    return NULL;
}

void mine_cpu_free(struct mine_cpu *c)
{
    if (c)
        pool_free(c->workers);
    free(c);
}

const char *mine_cpu_name(const struct mine_cpu *c)
{
    return c->name;
}

const char *mine_cpu_desc(const struct mine_cpu *c)
{
    return c->desc;
}

unsigned mine_cpu_threads(const struct mine_cpu *c)
{
    return c->threads;
}

static const char *cpu_ops_name(const void *c)
{
    return mine_cpu_name(c);
}

static const char *cpu_ops_desc(const void *c)
{
    return mine_cpu_desc(c);
}

static unsigned cpu_ops_threads(const void *c)
{
    return mine_cpu_threads(c);
}

static void cpu_ops_free(void *c)
{
    mine_cpu_free(c);
}

const struct mine_backend_ops mine_cpu_ops = {
    "cpu", "CPU threads over a SHA-NI or portable C scan, lowest offset by chunk claims",
    mine_cpu_search, cpu_ops_name, cpu_ops_desc, cpu_ops_threads, cpu_ops_free};
