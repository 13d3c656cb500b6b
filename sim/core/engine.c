/*
 * engine — event pool + binary heap.
 *
 * Design note (the invariant everything relies on):
 *   - `pool` stores event records; a slot is either live (pending), cancelled-but-still-in-heap,
 *     or free (on the free list).  Each slot has a generation counter, bumped whenever the slot is
 *     released, and a handle is (generation << 32 | slot + 1), so a stale handle never cancels the
 *     slot's next occupant.
 *   - `heap` is a 4-ary min-heap of 16-byte entries (tkey, sk): tkey is the bit pattern of the
 *     event time (for non-negative doubles, integer order is numeric order), sk is
 *     seq << 24 | slot, where seq counts schedules.  Comparing (tkey, sk) as a pair of integers
 *     orders by (time, seq) — total, and FIFO among equal times — without branches and without
 *     touching the pool.  Four siblings share one cache line, and a 4-ary heap has half the
 *     depth of a binary one.  Limits that follow: 2^24 pending events, 2^40 schedules per run.
 *   - Cancel marks the slot; the heap entry stays until it reaches the top and is discarded then
 *     (O(1) cancel; memory is bounded by the pending + cancelled count).
 *   - While a handler runs, the event it was popped for has already left the heap; its record is
 *     copied to `current` so the handler may schedule freely (which may grow and move the pool).
 *   - "Hole at the root": the run loop takes the top entry without re-heapifying; if the handler
 *     schedules an event, that event fills the root with a single sift-down instead of a pop
 *     (sift-down) followed by a push (sift-up).  Models where each event schedules one successor
 *     (PHOLD, periodic timers) do half the heap work.
 */
#include "engine.h"
#include "events.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(EV_TYPE_COUNT <= ENG_MAX_TYPES, "core/events.h lists more types than ENG_MAX_TYPES");

static const char *const ev_names[] = {
#define EV_NAME_(name, what) #name,
    EV_TYPES(EV_NAME_)
#undef EV_NAME_
};

const char *ev_type_name(uint32_t type)
{
    return type < EV_TYPE_COUNT ? ev_names[type] : "unknown";
}

struct heap_entry {
    uint64_t tkey; /* bits of the (non-negative) time */
    uint64_t sk;   /* seq << SLOT_BITS | slot */
};

#define SLOT_BITS 24
#define SLOT_MASK ((1u << SLOT_BITS) - 1)
#define SEQ_LIMIT (1ULL << (64 - SLOT_BITS))

static inline uint64_t time_key(double t)
{
    uint64_t k;
    t += 0.0; /* -0.0 -> +0.0 */
    memcpy(&k, &t, sizeof k);
    return k;
}

static inline double key_time(uint64_t k)
{
    double t;
    memcpy(&t, &k, sizeof t);
    return t;
}

static inline uint32_t entry_slot(const struct heap_entry *e) { return (uint32_t)(e->sk & SLOT_MASK); }

/* Exactly one 64-byte cache line (the pool is 64-byte aligned): an event costs one miss.  The
 * event's time is not stored here; the heap entry has it. */
struct pool_slot {
    union eng_payload data;
    uint64_t pad0;
    uint32_t type;
    uint32_t target;
    uint32_t gen;       /* bumped when the slot is released */
    uint16_t state;     /* SLOT_FREE, SLOT_LIVE, SLOT_CANCELLED */
    uint16_t pad;
    uint32_t next_free; /* free-list link (index), valid when SLOT_FREE */
    uint32_t pad2;
};

_Static_assert(sizeof(struct pool_slot) == 64, "a pool slot is one cache line");

enum { SLOT_FREE, SLOT_LIVE, SLOT_CANCELLED };
#define NO_SLOT UINT32_MAX

struct handler_entry {
    eng_handler fn;
    void *ctx;
};

struct eng {
    double now;
    uint64_t seq;
    uint64_t executed;
    size_t live; /* pending, not cancelled */

    struct heap_entry *heap; /* heap_mem + 3: index 1, and every sibling group, starts a line */
    struct heap_entry *heap_mem;
    size_t heap_len, heap_cap;
    int hole; /* the root slot of `heap` is empty and must be filled or removed */

    struct pool_slot *pool;
    size_t pool_cap;
    uint32_t free_head;

    struct handler_entry handlers[ENG_MAX_TYPES];
    int stop;
    const volatile sig_atomic_t *stop_flag; /* borrowed; may be NULL */
    struct err err;
};

#define ARITY 4

static inline int entry_less(const struct heap_entry *a, const struct heap_entry *b)
{
    /* Bitwise, not logical, operators: no branches on unpredictable comparisons. */
    return (a->tkey < b->tkey) | ((a->tkey == b->tkey) & (a->sk < b->sk));
}

static void sift_up(struct heap_entry *h, size_t i)
{
    struct heap_entry x = h[i];
    while (i > 0) {
        size_t parent = (i - 1) / ARITY;
        if (!entry_less(&x, &h[parent]))
            break;
        h[i] = h[parent];
        i = parent;
    }
    h[i] = x;
}

/* Place x at hole i and restore the heap below it.  Bottom-up (Floyd): walk the hole down along
 * the smallest children to a leaf without comparing against x, then sift x up from there.  New
 * events usually belong near the bottom, so this saves a comparison with x at every level. */
static void sift_down(struct heap_entry *h, size_t n, size_t i, struct heap_entry x)
{
    for (;;) {
        size_t c = ARITY * i + 1, best, end;
        if (c >= n)
            break;
        if (c + ARITY <= n) {
            /* Full node: a two-level tournament, so the compare/select chain is two deep. */
            size_t a = c + (size_t)entry_less(&h[c + 1], &h[c]);
            size_t b = c + 2 + (size_t)entry_less(&h[c + 3], &h[c + 2]);
            best = entry_less(&h[b], &h[a]) ? b : a;
        } else {
            best = c;
            end = n;
            for (size_t k = c + 1; k < end; k++)
                best = entry_less(&h[k], &h[best]) ? k : best;
        }
        h[i] = h[best];
        i = best;
    }
    h[i] = x;
    sift_up(h, i);
}

/* Remove the empty root left by the run loop: move the last entry up and sift it down. */
static void heap_close_hole(struct eng *eng)
{
    eng->hole = 0;
    if (--eng->heap_len > 0)
        sift_down(eng->heap, eng->heap_len, 0, eng->heap[eng->heap_len]);
}

static int pool_grow(struct eng *eng)
{
    size_t cap = eng->pool_cap ? eng->pool_cap * 2 : 64;
    struct pool_slot *p;
    struct heap_entry *h;

    if (cap > (size_t)SLOT_MASK + 1)
        return ERR_NOMEM;
    p = aligned_alloc(64, cap * sizeof *p);
    if (!p)
        return ERR_NOMEM;
    if (eng->pool_cap)
        memcpy(p, eng->pool, eng->pool_cap * sizeof *p);
    free(eng->pool);
    eng->pool = p;
    /* Entries are 16 bytes; with the root at byte 48 of a line, children 4i+1..4i+4 of any
     * node share one 64-byte line, so each level of a sift touches a single line. */
    h = aligned_alloc(64, (cap + 4) * sizeof *h);
    if (!h)
        return ERR_NOMEM;
    if (eng->heap_len)
        memcpy(h + 3, eng->heap, eng->heap_len * sizeof *h);
    free(eng->heap_mem);
    eng->heap_mem = h;
    eng->heap = h + 3;
    eng->heap_cap = cap;
    /* Thread the new slots onto the free list, lowest index first. */
    for (size_t i = cap; i-- > eng->pool_cap;) {
        p[i].gen = 1;
        p[i].state = SLOT_FREE;
        p[i].next_free = eng->free_head;
        eng->free_head = (uint32_t)i;
    }
    eng->pool_cap = cap;
    return 0;
}

static void slot_release(struct eng *eng, uint32_t slot)
{
    struct pool_slot *s = &eng->pool[slot];
    s->state = SLOT_FREE;
    s->gen++;
    s->next_free = eng->free_head;
    eng->free_head = slot;
}

struct eng *eng_new(size_t initial_capacity)
{
    struct eng *eng = calloc(1, sizeof *eng);
    if (!eng)
        return NULL;
    eng->free_head = NO_SLOT;
    while (eng->pool_cap < initial_capacity || eng->pool_cap == 0) {
        if (pool_grow(eng) != 0) {
            eng_free(eng);
            return NULL;
        }
    }
    return eng;
}

void eng_free(struct eng *eng)
{
    if (!eng)
        return;
    free(eng->pool);
    free(eng->heap_mem);
    free(eng);
}

int eng_handler_set(struct eng *eng, uint32_t type, eng_handler fn, void *ctx)
{
    if (type >= ENG_MAX_TYPES)
        return err_set(&eng->err, ERR_RUNTIME, "event type %u out of range (max %d)", type,
                       ENG_MAX_TYPES - 1);
    if (!fn)
        return err_set(&eng->err, ERR_RUNTIME, "event type %u (%s): no handler given", type,
                       ev_type_name(type));
    if (eng->handlers[type].fn)
        return err_set(&eng->err, ERR_RUNTIME,
                       "event type %u (%s) already has a handler: two components registered it",
                       type, ev_type_name(type));
    eng->handlers[type].fn = fn;
    eng->handlers[type].ctx = ctx;
    return 0;
}

int eng_schedule(struct eng *eng, double time, uint32_t type, uint32_t target,
                 const union eng_payload *data, eng_handle *handle)
{
    uint32_t slot;
    struct pool_slot *s;
    struct heap_entry e;

    if (!isfinite(time) || time < eng->now)
        return err_set(&eng->err, ERR_RUNTIME, "event type %u scheduled at t=%g, before now (%g)",
                       type, time, eng->now);
    if (type >= ENG_MAX_TYPES || !eng->handlers[type].fn)
        return err_set(&eng->err, ERR_RUNTIME, "event type %u (%s) has no handler", type,
                       ev_type_name(type));
    if (eng->seq >= SEQ_LIMIT)
        return err_set(&eng->err, ERR_RUNTIME, "more than 2^40 events scheduled in one run");
    if (eng->free_head == NO_SLOT) {
        int rc = pool_grow(eng);
        if (rc)
            return err_set(&eng->err, rc, "event pool cannot grow beyond %zu pending events",
                           eng->pool_cap);
    }
    slot = eng->free_head;
    s = &eng->pool[slot];
    eng->free_head = s->next_free;
    s->state = SLOT_LIVE;
    s->type = type;
    s->target = target;
    if (data)
        s->data = *data;
    else
        memset(&s->data, 0, sizeof s->data);

    e.tkey = time_key(time);
    e.sk = (eng->seq++ << SLOT_BITS) | slot;
    if (eng->hole) {
        eng->hole = 0;
        sift_down(eng->heap, eng->heap_len, 0, e);
    } else {
        eng->heap[eng->heap_len] = e;
        sift_up(eng->heap, eng->heap_len++);
    }
    eng->live++;
    if (handle)
        *handle = ((uint64_t)s->gen << 32) | ((uint64_t)slot + 1);
    return 0;
}

int eng_schedule_in(struct eng *eng, double delay, uint32_t type, uint32_t target,
                    const union eng_payload *data, eng_handle *handle)
{
    if (!(delay >= 0.0))
        return err_set(&eng->err, ERR_RUNTIME, "event type %u scheduled with delay %g < 0", type,
                       delay);
    return eng_schedule(eng, eng->now + delay, type, target, data, handle);
}

int eng_cancel(struct eng *eng, eng_handle handle)
{
    uint64_t idx = handle & 0xffffffffu;
    uint32_t gen = (uint32_t)(handle >> 32);
    struct pool_slot *s;

    if (idx == 0 || idx > eng->pool_cap)
        return ERR_NOTFOUND;
    s = &eng->pool[idx - 1];
    if (s->state != SLOT_LIVE || s->gen != gen)
        return ERR_NOTFOUND;
    s->state = SLOT_CANCELLED;
    eng->live--;
    return 0;
}

int eng_run_until(struct eng *eng, double t_end)
{
    struct eng_event current;

    eng->stop = 0;
    while (eng->heap_len > 0) {
        struct heap_entry top = eng->heap[0];
        struct pool_slot *s;
        const struct handler_entry *h;
        int rc;

        double t = key_time(top.tkey);
        uint32_t slot = entry_slot(&top);
        if (t > t_end)
            break;
        s = &eng->pool[slot];
        if (s->state == SLOT_CANCELLED) {
            slot_release(eng, slot);
            eng->hole = 1;
            heap_close_hole(eng);
            continue;
        }
        current.time = t;
        current.type = s->type;
        current.target = s->target;
        current.data = s->data;
        /* The next event to run is one of the root's children (or one the handler schedules):
         * start fetching their records while the handler runs. */
        for (size_t k = 1; k <= ARITY && k < eng->heap_len; k++)
            __builtin_prefetch(&eng->pool[entry_slot(&eng->heap[k])]);
        slot_release(eng, slot);
        eng->live--;
        eng->now = t;
        eng->hole = 1;
        h = &eng->handlers[current.type];
        rc = h->fn(eng, &current, h->ctx);
        if (eng->hole)
            heap_close_hole(eng);
        eng->executed++;
        if (rc) {
            if (eng->err.code == ERR_OK)
                err_set(&eng->err, rc, "handler for event type %u failed at t=%g", current.type,
                        current.time);
            return rc;
        }
        if (eng->stop || (eng->stop_flag && *eng->stop_flag))
            return ERR_INTERRUPTED;
    }
    if (t_end > eng->now && isfinite(t_end))
        eng->now = t_end;
    return 0;
}

void eng_stop(struct eng *eng) { eng->stop = 1; }

void eng_stop_flag_set(struct eng *eng, const volatile sig_atomic_t *flag)
{
    eng->stop_flag = flag;
}
double eng_now(const struct eng *eng) { return eng->now; }
size_t eng_pending(const struct eng *eng) { return eng->live; }
uint64_t eng_executed(const struct eng *eng) { return eng->executed; }
size_t eng_capacity(const struct eng *eng) { return eng->pool_cap; }
struct err *eng_err(struct eng *eng) { return &eng->err; }
