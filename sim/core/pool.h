/*
 * pool — a persistent worker pool that runs a batch of independent items and hands every result
 * back in item order.
 *
 * Threads are started once (pool_new) and sleep between batches; pool_run() hands them a batch
 * of n items, the calling thread works on it too, and pool_run() returns when every item that had
 * to run has run.  An item's result goes wherever the task writes it, by item index (an array
 * the caller owns), never in completion order: the caller reads the results in index order, so a
 * run's output does not depend on the number of threads or on scheduling.
 *
 * Early stop, for searches (e.g. the nonce search: item k = the k-th range of nonces): a task
 * that returns non-zero stops the batch at its item.  Items above the LOWEST stopping item may be
 * skipped; every item below it has run to completion.  pool_run() returns that lowest item's
 * value and index, so "the first hit in item order" is the same for any thread count.  Errors use
 * the same path: a task returns a negative code from err.h, and the batch reports the error of
 * the lowest failing item.
 *
 * Invariant: between pool_run() calls no worker touches a task or its context.  pool_run() is
 * not re-entrant (a task must not call pool_run() on the same pool) and one pool serves one
 * thread of control at a time.  A pool of 1 thread starts no thread: pool_run() runs the items
 * in order in the caller.
 */
#ifndef SETM_CORE_POOL_H
#define SETM_CORE_POOL_H

#include <stddef.h>

#include "core/err.h"

#define POOL_MAX_THREADS 256

struct pool;

/* One item: 0 to go on; non-zero to stop the batch at item i (a negative err.h code for an
 * error, a positive value for "found").  Called from any of the pool's threads; tasks of one
 * batch run concurrently, so a task writes only to its own item's slot. */
typedef int (*pool_task)(void *ctx, size_t i);

/* Start a pool of `threads` threads in all, the caller's included (threads - 1 workers);
 * 0 = one per online core.  Returns NULL with e filled: ERR_USAGE (threads < 0 or above
 * POOL_MAX_THREADS), ERR_NOMEM, ERR_RUNTIME (a thread could not be started). */
struct pool *pool_new(int threads, struct err *e);

/* Stop and join the workers.  NULL is a no-op. */
void pool_free(struct pool *p);

/* Threads working on a batch (the caller included), >= 1. */
int pool_threads(const struct pool *p);

/* The number of online cores (>= 1): what threads = 0 resolves to. */
int pool_cores(void);

/* Run task(ctx, i) for i = 0 .. n-1.  Returns 0 when every task returned 0; otherwise the
 * non-zero value of the lowest item that returned one, with its index in *stopped_at (when not
 * NULL; set to n when no item stopped).  n = 0 returns 0 at once. */
int pool_run(struct pool *p, size_t n, pool_task task, void *ctx, size_t *stopped_at);

#endif
