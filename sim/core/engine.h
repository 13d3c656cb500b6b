/*
 * engine — the discrete-event core: simulated time, a priority queue of pending events, dispatch.
 *
 * Time is in simulated seconds (double).  Events run in order of (time, insertion sequence): two
 * events at the same time run in the order they were scheduled, so a run is a pure function of its
 * inputs.  An event is a small typed record (type, target entity, 32-byte payload) copied into a
 * pool owned by the engine; the pool grows only when the number of pending events reaches a new
 * high-water mark, so a simulation in steady state allocates nothing per event.
 *
 * Handlers are registered per event type, once each (core/events.h numbers the model's types).  A handler may schedule and cancel events and call
 * eng_stop(); returning non-zero aborts the run with that code (it should also fill the engine's
 * error record via eng_err()).
 *
 * Complexity: schedule O(log n), cancel O(1) (the event is skipped when it reaches the front),
 * pop O(log n), with n pending events.
 */
#ifndef SETM_CORE_ENGINE_H
#define SETM_CORE_ENGINE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define ENG_MAX_TYPES 64

/* Payload carried by an event: 32 bytes the model interprets according to `type`. */
union eng_payload {
    double f64[4];
    uint64_t u64[4];
    int64_t i64[4];
    uint32_t u32[8];
    unsigned char bytes[32];
};

struct eng_event {
    double time;            /* simulated seconds at which it fires */
    uint32_t type;          /* index into the handler table, < ENG_MAX_TYPES */
    uint32_t target;        /* entity the event is addressed to (agent id, node id...) */
    union eng_payload data; /* copied in at schedule time */
};

/* Names an event scheduled earlier, for eng_cancel().  0 is never a valid handle. */
typedef uint64_t eng_handle;

struct eng;

/* A handler gets the engine, the event (valid only during the call) and the context given at
 * registration.  Return 0 to continue, a negative ERR_* code to abort the run. */
typedef int (*eng_handler)(struct eng *eng, const struct eng_event *ev, void *ctx);

/* Create an engine with room for `initial_capacity` pending events (grows as needed).
 * Returns NULL when out of memory. */
struct eng *eng_new(size_t initial_capacity);
void eng_free(struct eng *eng);

/* Register `fn` (not NULL) for events of `type` (< ENG_MAX_TYPES; the model's types are listed in
 * core/events.h).  0, or ERR_RUNTIME (in eng_err) for a bad type or a type that already has a
 * handler: one handler per type for the engine's life. */
int eng_handler_set(struct eng *eng, uint32_t type, eng_handler fn, void *ctx);

/* Schedule an event at absolute time `time` (must be >= eng_now() and finite).  `data` may be
 * NULL (zero payload).  On success stores a handle in *handle when non-NULL and returns 0;
 * returns ERR_RUNTIME for a time in the past / not finite or an unregistered type, ERR_NOMEM
 * when the pool cannot grow. */
int eng_schedule(struct eng *eng, double time, uint32_t type, uint32_t target,
                 const union eng_payload *data, eng_handle *handle);

/* Same, `delay` seconds after now (delay >= 0). */
int eng_schedule_in(struct eng *eng, double delay, uint32_t type, uint32_t target,
                    const union eng_payload *data, eng_handle *handle);

/* Cancel a pending event.  Returns 0, or ERR_NOTFOUND when the handle names no pending event
 * (already run, already cancelled, or never issued). */
int eng_cancel(struct eng *eng, eng_handle handle);

/* Run events in order while their time is <= t_end, then set the clock to t_end (unless stopped
 * early).  Returns 0 when t_end was reached or the queue ran dry, ERR_INTERRUPTED after
 * eng_stop(), or the first non-zero handler return (details in eng_err()). */
int eng_run_until(struct eng *eng, double t_end);

/* Ask a running eng_run_until() to return after the current handler. */
void eng_stop(struct eng *eng);

/* Also return ERR_INTERRUPTED after the current handler whenever *flag is non-zero (a signal
 * handler's stop request: honoured within one event, not one slot).  NULL removes it; the flag
 * is borrowed and must outlive the runs. */
void eng_stop_flag_set(struct eng *eng, const volatile sig_atomic_t *flag);

double eng_now(const struct eng *eng);
size_t eng_pending(const struct eng *eng);  /* events scheduled and not yet run or cancelled */
uint64_t eng_executed(const struct eng *eng); /* events run so far */
size_t eng_capacity(const struct eng *eng);   /* pool size: grows only past a new high-water mark */

/* The engine's error record, for handlers to fill when they fail. */
struct err *eng_err(struct eng *eng);

#endif
