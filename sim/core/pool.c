/*
 * pool — persistent workers, items claimed one at a time from a shared counter.
 *
 * A batch is published under the mutex by bumping `gen`; each worker runs the batch once and
 * counts itself out (`busy`), and pool_run() waits for busy == 0, so no worker can still be in
 * batch k when batch k+1 is published, and everything a task wrote is visible to the caller
 * (the mutex orders it).  Items are claimed with an atomic counter: an item costs one atomic add,
 * which is negligible beside the items we run (a signature, a key exchange, a nonce range).
 */
#include "pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

struct pool {
    int threads;     /* the caller included */
    int n_workers;   /* started threads: threads - 1 */
    pthread_t *tid;
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    unsigned long gen; /* batches published; under mu */
    int busy;          /* workers still in the current batch; under mu */
    int quit;          /* under mu */
    /* the current batch: written by pool_run before publishing, read-only while it runs */
    pool_task task;
    void *ctx;
    size_t n;
    atomic_size_t next;    /* next item to claim */
    atomic_size_t stop;    /* lowest item that stopped the batch, n when none */
    int stop_rc;           /* its value; under mu */
};

int pool_cores(void)
{
    cpu_set_t set;
    long n;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static void work(struct pool *p)
{
    for (;;) {
        size_t i = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
        int rc;
        if (i >= p->n)
            return;
        if (i > atomic_load_explicit(&p->stop, memory_order_relaxed))
            return; /* claims only grow: every later item is above the stop too */
        rc = p->task(p->ctx, i);
        if (rc) {
            pthread_mutex_lock(&p->mu);
            if (i < atomic_load_explicit(&p->stop, memory_order_relaxed)) {
                atomic_store_explicit(&p->stop, i, memory_order_relaxed);
                p->stop_rc = rc;
            }
            pthread_mutex_unlock(&p->mu);
        }
    }
}

static void *worker(void *arg)
{
    struct pool *p = arg;
    unsigned long seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->quit && p->gen == seen)
            pthread_cond_wait(&p->go, &p->mu);
        if (p->quit)
            break;
        seen = p->gen;
        pthread_mutex_unlock(&p->mu);
        work(p);
        pthread_mutex_lock(&p->mu);
        if (--p->busy == 0)
            pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

struct pool *pool_new(int threads, struct err *e)
{
    struct pool *p;
    if (threads < 0 || threads > POOL_MAX_THREADS) {
        err_set(e, ERR_USAGE, "threads = %d: expected 0 (every core) to %d", threads,
                POOL_MAX_THREADS);
        return NULL;
    }
    if (threads == 0)
        threads = pool_cores();
    if (threads > POOL_MAX_THREADS)
        threads = POOL_MAX_THREADS;
    p = calloc(1, sizeof *p);
    if (!p || (threads > 1 && !(p->tid = calloc((size_t)threads - 1, sizeof *p->tid)))) {
        free(p);
        err_set(e, ERR_NOMEM, "out of memory for a pool of %d threads", threads);
        return NULL;
    }
    p->threads = threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->go, NULL);
    pthread_cond_init(&p->done, NULL);
    for (int k = 0; k < threads - 1; k++) {
        if (pthread_create(&p->tid[k], NULL, worker, p) != 0) {
            pool_free(p);
            err_set(e, ERR_RUNTIME, "could not start worker thread %d of %d", k + 1, threads);
            return NULL;
        }
        p->n_workers++;
    }
    return p;
}

void pool_free(struct pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    for (int k = 0; k < p->n_workers; k++)
        pthread_join(p->tid[k], NULL);
    pthread_cond_destroy(&p->go);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    free(p->tid);
    free(p);
}

int pool_threads(const struct pool *p) { return p->threads; }

int pool_run(struct pool *p, size_t n, pool_task task, void *ctx, size_t *stopped_at)
{
    int wake = p->n_workers > 0 && n > 1, rc;
    if (stopped_at)
        *stopped_at = n;
    if (n == 0)
        return 0;
    p->task = task;
    p->ctx = ctx;
    p->n = n;
    p->stop_rc = 0;
    atomic_store_explicit(&p->next, 0, memory_order_relaxed);
    atomic_store_explicit(&p->stop, n, memory_order_relaxed);
    if (wake) {
        pthread_mutex_lock(&p->mu);
        p->busy = p->n_workers;
        p->gen++;
        pthread_cond_broadcast(&p->go);
        pthread_mutex_unlock(&p->mu);
    }
    work(p);
    pthread_mutex_lock(&p->mu);
    while (wake && p->busy > 0)
        pthread_cond_wait(&p->done, &p->mu);
    rc = p->stop_rc;
    if (stopped_at && rc)
        *stopped_at = atomic_load_explicit(&p->stop, memory_order_relaxed);
    pthread_mutex_unlock(&p->mu);
    return rc;
}
