/*
 * config — scenario configuration: a typed schema with compiled defaults, INI files read with
 * inih, `use = a.ini, b.ini` composition, `--set section.key=value` overrides, range checks.
 *
 * Every key is described once in the schema (config.c): section, name, type, default (as text,
 * parsed by the same code that parses files, so the compiled default is exactly what a file
 * holding that text yields), accepted range or choices, unit and help.  configs/defaults.ini
 * documents the same keys; tests/test_config.c fails when the two drift apart.
 *
 * Order of application: compiled defaults; then the files named by the scenario's
 * `[scenario] use` (recursively, in order, each relative to the including file's directory, else
 * the working directory, else the setm source tree); then the scenario's own keys; then --set.
 * Later values override earlier ones.  Within one file a key may appear only once.
 *
 * Repeated sections `[agent.NAME]` define agent groups, kept in order of first appearance; a
 * later file may override keys of a group defined earlier.
 *
 * Errors (ERR_CONFIG) name file, line, section, key, the value and what is accepted.
 */
#ifndef SETM_CORE_CONFIG_H
#define SETM_CORE_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/err.h"

#define CFG_STR_MAX 256
#define CFG_NAME_MAX 64
#define CFG_MAX_AGENT_GROUPS 4096
#define CFG_MAX_AGENTS 1000000

enum cfg_backend { CFG_BACKEND_AUTO, CFG_BACKEND_OPENCL, CFG_BACKEND_CPU };

/* Agent types of the paper's Table 1 (sim/grid gives each its profile model). */
enum cfg_agent_type {
    CFG_AGENT_HOME_SOLAR,      /* home solar system: prosumer */
    CFG_AGENT_WEARABLE,        /* wearable devices */
    CFG_AGENT_SMART_DEVICE,    /* smart devices */
    CFG_AGENT_SMART_VEHICLE,   /* smart vehicles (EV charging) */
    CFG_AGENT_PERSONAL_OFFICE, /* personal office */
    CFG_AGENT_SMART_FACTORY,   /* smart factory: industrial consumer */
    CFG_AGENT_SOLAR_SYSTEM,    /* solar system / energy company: generation */
    CFG_AGENT_NTYPES
};

/* One [agent.NAME] group: `count` agents sharing these parameters. */
struct cfg_agent {
    char name[CFG_NAME_MAX]; /* NAME from the section header */
    int type;                /* enum cfg_agent_type */
    int64_t count;           /* agents in the group */
    double min_bid;          /* EUR/MWh: buyer's opening bid, seller's floor */
    double max_bid;          /* EUR/MWh: buyer's ceiling, seller's opening ask */
    int64_t forecast_days;   /* days of history the forecast uses (Table 1) */
};

struct cfg {
    struct {
        char name[CFG_NAME_MAX];
        char description[CFG_STR_MAX];
        int64_t seed;
    } scenario;
    struct {
        double days; /* simulated duration */
    } sim;
    struct {
        int64_t slot_minutes;
        int64_t rounds_per_slot;
    } market;
    struct {
        int backend; /* enum cfg_backend */
        int64_t threads;
        char platform[CFG_NAME_MAX];
        char device[CFG_NAME_MAX];
    } mine;
    struct {
        int64_t compression;
        int64_t chunk_rows;
    } output;

    struct cfg_agent *agents; /* owned; n_agents groups in order of first appearance */
    size_t n_agents;
    size_t agents_cap;
};

/* Fill `cfg` with the compiled defaults (no agent groups).  Pair with cfg_fini(). */
void cfg_init(struct cfg *cfg);
void cfg_fini(struct cfg *cfg);

/* Apply a scenario file (and, first, the files its [scenario] use names).  0, ERR_CONFIG for
 * bad content, ERR_NOTFOUND / ERR_IO when a file cannot be read, ERR_NOMEM. */
int cfg_load_file(struct cfg *cfg, const char *path, struct err *e);

/* Apply INI text held in memory; `origin` names it in error messages. */
int cfg_load_string(struct cfg *cfg, const char *text, const char *origin, struct err *e);

/* Apply one "section.key=value" override (the --set flag).  0 or ERR_CONFIG. */
int cfg_set(struct cfg *cfg, const char *assignment, struct err *e);

/* Cross-key checks that single values cannot express (min_bid <= max_bid, total agents).
 * 0 or ERR_CONFIG. */
int cfg_validate(const struct cfg *cfg, struct err *e);

/* Write the fully resolved configuration as INI text that reproduces it.  0 or ERR_IO. */
int cfg_write(const struct cfg *cfg, FILE *out);

/* Same, into a new NUL-terminated heap string the caller frees; NULL when out of memory. */
char *cfg_to_string(const struct cfg *cfg);

/* Total agents over all groups. */
int64_t cfg_agent_total(const struct cfg *cfg);

/* Names of enum values, for output ("home_solar", "cpu"...). */
const char *cfg_agent_type_name(int type);
const char *cfg_backend_name(int backend);

/* Schema introspection, for the defaults test and `--help` texts.  Keys of [agent.NAME] groups
 * are listed with section "agent.*". */
struct cfg_key_info {
    const char *section;
    const char *name;
    const char *type;    /* "integer", "number", "boolean", "string", "choice" */
    const char *def;     /* default, as INI text */
    const char *unit;    /* "" when unitless */
    const char *help;
    char accepted[160];  /* "integer in [1, 1440]", "one of auto|opencl|cpu"... */
};
size_t cfg_key_count(void);
void cfg_key_get(size_t i, struct cfg_key_info *out);

/* Parse `value` as key section.name would be parsed, and say whether it equals the compiled
 * default.  1 equal, 0 different, negative ERR_CONFIG when the value is invalid or the key is
 * unknown (section "agent.*" for agent keys). */
int cfg_value_is_default(const char *section, const char *name, const char *value,
                         struct err *e);

#endif
