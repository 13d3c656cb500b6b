/*
 * mine/mine_cpu — the CPU backend: a pool of threads per search over one scan path (portable C
 * from kernels/sha256.cl, or SHA-NI from mine_shani.c).
 *
 * Threads claim fixed-size chunks of offsets in ascending order from one atomic counter and
 * publish hits with an atomic minimum. A thread stops claiming once the next chunk starts above
 * the best hit, and scans its own chunk only up to the chunk's first hit. Invariant giving the
 * lowest offset for any thread count: every chunk that begins below the final best was claimed
 * and scanned up to its first hit (a chunk is skipped only when a hit below its start exists).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mine/backend.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#define CPU_CHUNK 16384 /* offsets per claim: ~1 ms of SHA-NI work, so claims cost nothing */

typedef uint64_t (*scan_fn)(const struct mine_work *w, uint64_t begin, uint64_t end);

struct mine_cpu {
    unsigned threads;         /* workers per search, >= 1 */
    scan_fn scan;             /* the path in use */
    const char *name;         /* "cpu-sha-ni" or "cpu-portable" */
    char desc[MINE_DESC_MAX]; /* CPU model, threads, path */
};

/* One search shared by its workers. */
struct cpu_job {
    const struct mine_work *w;
    scan_fn scan;
    uint64_t count;
    _Atomic uint64_t next; /* first offset of the next unclaimed chunk */
    _Atomic uint64_t best; /* lowest hit so far, MINE_NONE when none */
    atomic_int stopped;    /* a worker saw the stop flag: the answer is void */
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

static void *cpu_worker(void *arg)
{
    struct cpu_job *j = arg;

    for (;;) {
        uint64_t b = atomic_fetch_add(&j->next, CPU_CHUNK);
        if (b >= j->count || b >= atomic_load(&j->best) || atomic_load(&j->stopped))
            break;
        if (mine_work_stopped(j->w)) {
            atomic_store(&j->stopped, 1);
            break;
        }
        uint64_t end = b + CPU_CHUNK < j->count ? b + CPU_CHUNK : j->count;
        uint64_t hit = j->scan(j->w, b, end);
        if (hit != MINE_NONE) {
            uint64_t cur = atomic_load(&j->best);
            while (hit < cur && !atomic_compare_exchange_weak(&j->best, &cur, hit))
                ;
            break; /* every chunk this thread could claim next lies above this hit */
        }
    }
    return NULL;
}

int mine_cpu_search(void *cpu, const struct mine_work *w, uint64_t count, uint64_t *first,
                    struct err *e)
{
    struct mine_cpu *c = cpu;
    struct cpu_job j = {.w = w, .scan = c->scan, .count = count};
    pthread_t tid[256];
    unsigned extra = 0, want;

    *first = MINE_NONE;
    if (c->threads == 1 || count <= CPU_CHUNK) {
        /* Chunk by chunk, so that a stop request is seen within a chunk's time. */
        for (uint64_t b = 0; b < count; b += CPU_CHUNK) {
            if (mine_work_stopped(w))
                return err_set(e, ERR_INTERRUPTED, "nonce search stopped by a signal");
            *first = c->scan(w, b, count - b < CPU_CHUNK ? count : b + CPU_CHUNK);
            if (*first != MINE_NONE)
                break;
        }
        return 0;
    }
    atomic_init(&j.next, 0);
    atomic_init(&j.best, MINE_NONE);
    atomic_init(&j.stopped, 0);
    want = c->threads - 1;
    if (want > sizeof tid / sizeof tid[0])
        want = sizeof tid / sizeof tid[0];
    /* The calling thread works too; if a thread cannot be started the others cover its share,
     * so the answer does not depend on how many start. */
    while (extra < want && pthread_create(&tid[extra], NULL, cpu_worker, &j) == 0)
        extra++;
    cpu_worker(&j);
    for (unsigned i = 0; i < extra; i++)
        pthread_join(tid[i], NULL);
    if (atomic_load(&j.stopped)) {
        *first = MINE_NONE;
        return err_set(e, ERR_INTERRUPTED, "nonce search stopped by a signal");
    }
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
    c->scan = mine_ref_scan;
    c->name = "cpu-portable";
    if (mine_selftest(mine_cpu_search, c, e)) {
        err_wrap(e, ERR_DEVICE, "CPU path portable disabled");
        goto fail;
    }
chosen:
    snprintf(c->desc, sizeof c->desc, "%s, %u thread%s, %s%s%.120s", model, threads,
             threads == 1 ? "" : "s", c->scan == mine_ref_scan ? "portable C" : "SHA-NI",
             te.code ? "; SHA-NI disabled: " : "", te.code ? te.msg : "");
    return c;
fail:
    free(c);
    return NULL;
}

void mine_cpu_free(struct mine_cpu *c)
{
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
