/*
 * events — every event type of the model, in one list.  Numbers are assigned here, in order, and
 * nowhere else, so two components can never share a type; a second handler registered for a type
 * is an error (eng_handler_set), so a wiring mistake cannot silently replace the first.
 *
 * Each entry names its owner by its prefix: the component that registers the handler and
 * schedules the event.  Add a type by adding a line; the count must stay <= ENG_MAX_TYPES (checked
 * at compile time in engine.c).  The number of a type has no effect on the order events run in
 * ((time, insertion sequence) only), so renumbering changes no result.
 */
#ifndef SETM_CORE_EVENTS_H
#define SETM_CORE_EVENTS_H

#include <stdint.h>

/* X(name, what happens) */
#define EV_TYPES(X)                                                                            \
    X(PHOLD_EV, "core/phold: a PHOLD benchmark message reaches its logical process")          \
    X(SIM_EV_SLOT_START, "run/sim: a market slot begins")                                      \
    X(SIM_EV_ROUND, "run/sim: a negotiation round of the current slot")                        \
    X(SIM_EV_SLOT_END, "run/sim: the slot closes, its row is logged")                          \
    X(MKT_EV_ARRIVE, "market: a message reaches the MiM agent")                                \
    X(MKT_EV_REPLY, "market: the MiM agent's reply reaches an agent")                          \
    X(CHAIN_EV_RACE, "chain: the current race segment ends (a block is found, or a new one)")  \
    X(CHAIN_EV_DELIVER, "chain: a block (or a tampered copy) reaches a node")

enum ev_type {
#define EV_ENUM_(name, what) name,
    EV_TYPES(EV_ENUM_)
#undef EV_ENUM_
    EV_TYPE_COUNT
};

/* "CHAIN_EV_RACE" for a registered type, "unknown" otherwise; never NULL. */
const char *ev_type_name(uint32_t type);

#endif
