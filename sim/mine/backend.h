/*
 * mine/backend — the small internal interface between mine.c and its backends (mine_cpu.c,
 * mine_opencl.c), shared inside sim/mine only. Not for other modules: use mine/mine.h.
 *
 * Each backend is one table of operations (struct mine_backend_ops, the shape of Redis's
 * ae_*.c event loops): mine.c holds a table pointer and an opaque object and never branches on
 * which backend it has.
 *
 * Backends work in offsets: offset i stands for nonce (start + i) mod 2^32, and a backend's
 * answer to a search over offsets [0, count) is the smallest offset whose hash meets the target,
 * or MINE_NONE. mine.c turns that into nonce, hash and attempts, and re-checks it on the host.
 */
#ifndef SETM_MINE_BACKEND_H
#define SETM_MINE_BACKEND_H

#include <signal.h>
#include <stdint.h>

#include "core/err.h"
#include "mine/mine.h"

#define MINE_NONE UINT64_MAX /* "no offset found" */
#define MINE_DESC_MAX 256    /* bytes of a backend's description string */

/* One search after the host's precomputation; built by mine_work_init. */
struct mine_work {
    uint32_t mid[8];    /* SHA-256 state after header bytes 0..63 (the midstate) */
    uint32_t tail[3];   /* header bytes 64..75 as SHA words (big-endian reads) */
    uint32_t target[8]; /* target as little-endian 32-bit limbs, target[7] most significant */
    uint32_t start;     /* nonce at offset 0 */
    const volatile sig_atomic_t *stop; /* non-NULL and raised: the search returns ERR_INTERRUPTED */
};

/* 1 when the search's stop flag is raised. Backends look every few million nonces at most.
 * Worker threads read the flag another thread (or a signal handler) writes: a relaxed atomic
 * load (what volatile sig_atomic_t gives a handler, made explicit for threads and TSan). */
static inline int mine_work_stopped(const struct mine_work *w)
{
    return w->stop && __atomic_load_n(w->stop, __ATOMIC_RELAXED);
}

void mine_work_init(struct mine_work *w, const unsigned char header[MINE_HEADER_LEN],
                    const unsigned char target[MINE_TARGET_LEN], uint32_t start);

/* The portable reference: smallest offset in [begin, end) meeting the target, or MINE_NONE.
 * Single-threaded; the yardstick of every self-test. */
uint64_t mine_ref_scan(const struct mine_work *w, uint64_t begin, uint64_t end);

/* A backend's search over offsets [0, count): 0 with *first set (MINE_NONE when no offset meets
 * the target), ERR_INTERRUPTED when w->stop was raised, ERR_DEVICE. */
typedef int (*mine_search_fn)(void *backend, const struct mine_work *w, uint64_t count,
                              uint64_t *first, struct err *e);

/* One backend: its operations. `object` arguments are what the backend's constructor returned. */
struct mine_backend_ops {
    const char *kind;                           /* "opencl" or "cpu" */
    const char *description;                    /* one line for `setm devices` and the README */
    mine_search_fn search;
    const char *(*name)(const void *object);    /* "opencl", "cpu-sha-ni", "cpu-portable" */
    const char *(*desc)(const void *object);    /* device, model, threads, path */
    unsigned (*threads)(const void *object);    /* host threads a search uses */
    void (*free)(void *object);
};

/* mine_search_rolled with `span` nonces per time roll instead of 2^32 (offset o: time + o / span,
 * nonce start + o mod span); count <= MINE_ROLL_MAX * span. For tests of the (roll, nonce)
 * order, which at span 2^32 would need 2^32 hashes to reach the second roll. */
int mine_search_span(struct mine *m, unsigned char header[MINE_HEADER_LEN],
                     const unsigned char target[MINE_TARGET_LEN], uint32_t start, uint64_t count,
                     uint64_t span, struct mine_result *res, struct err *e);

extern const struct mine_backend_ops mine_cpu_ops;
extern const struct mine_backend_ops mine_ocl_ops;

/* Known-answer self-test of one backend/path: the Bitcoin genesis header around its real nonce
 * (hard-coded answer), the same range without the winner (no answer), and easy targets over
 * plain and wrapping ranges checked against mine_ref_scan. Returns 0 or ERR_DEVICE naming the
 * case that failed (or the backend's own error). */
int mine_selftest(mine_search_fn search, void *backend, struct err *e);

/* CPU backend (mine_cpu.c). */
struct mine_cpu;
struct mine_cpu *mine_cpu_new(unsigned threads, enum mine_cpu_path path, struct err *e);
void mine_cpu_free(struct mine_cpu *c);
int mine_cpu_search(void *cpu, const struct mine_work *w, uint64_t count, uint64_t *first,
                    struct err *e);
const char *mine_cpu_name(const struct mine_cpu *c); /* "cpu-sha-ni" or "cpu-portable" */
const char *mine_cpu_desc(const struct mine_cpu *c);
unsigned mine_cpu_threads(const struct mine_cpu *c);

/* Portable scan of the CPU backend (mine_portable.c): mine_ref_scan's answer, with the
 * nonce-free rounds hoisted and the second hash stopped after round 60 when the top limb misses. */
uint64_t mine_portable_scan(const struct mine_work *w, uint64_t begin, uint64_t end);

/* SHA-NI scan (mine_shani.c): same contract as mine_ref_scan. mine_shani_available says whether
 * this CPU and build have the SHA extensions (and SSE4.1); never call the scan when it is 0. */
int mine_shani_available(void);
uint64_t mine_shani_scan(const struct mine_work *w, uint64_t begin, uint64_t end);

/* OpenCL backend (mine_opencl.c): the first selected device that builds the kernel and passes
 * the self-test, GPUs and accelerators before CPU devices. vw: nonces per work-item, 0 = the
 * device's choice. The reason each device failed is appended to note. */
struct mine_ocl;
struct mine_ocl *mine_ocl_new(const char *platform, const char *device, const char *kernel_dir,
                              unsigned vw, char *note, size_t note_len, struct err *e);
void mine_ocl_free(struct mine_ocl *o);
int mine_ocl_search(void *ocl, const struct mine_work *w, uint64_t count, uint64_t *first,
                    struct err *e);
const char *mine_ocl_desc(const struct mine_ocl *o);
/* 1 when a selected OpenCL device is a GPU or accelerator (not a CPU device), from the device
 * list alone: nothing is built. 0 also when there is no OpenCL platform. */
int mine_ocl_has_accelerator(const char *platform, const char *device);

#endif
