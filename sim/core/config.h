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

/* Daily load shapes (sim/grid/profile.c defines them). */
enum cfg_load_shape {
    CFG_SHAPE_RESIDENTIAL, /* morning and evening peaks */
    CFG_SHAPE_OFFICE,      /* working hours on weekdays */
    CFG_SHAPE_INDUSTRIAL,  /* 8-hour shifts from 06:00 */
    CFG_SHAPE_DEVICE,      /* waking hours, small base plus bursts */
    CFG_SHAPE_FLAT,        /* constant */
    CFG_NSHAPES
};

/* "auto" in an [agent.NAME] group: take the value of the group's [type.NAME] preset. */
#define CFG_AUTO_INT (-1)
/* For doubles, auto is NaN (test with isnan); for choices, CFG_AUTO_INT. */

/*
 * Profile and trading parameters.  A [type.NAME] section holds a complete set (the type's preset,
 * compiled defaults in config.c, documented in configs/agent_types.ini); an [agent.NAME] group
 * holds overrides, with every field "auto" unless the scenario sets it.
 */
struct cfg_profile {
    double min_bid;          /* EUR/MWh: buyer's opening bid, seller's floor */
    double max_bid;          /* EUR/MWh: buyer's ceiling, seller's opening ask */
    int64_t forecast_days;   /* days of own history behind the forecast (Table 1) */
    double pv_kwp;           /* kW: PV peak power */
    double load_kwh_day;     /* kWh/day: mean base load */
    int load_shape;          /* enum cfg_load_shape */
    double load_sigma;       /* lognormal sigma of the per-slot load noise */
    double weekend_factor;   /* load multiplier on Saturday and Sunday */
    int64_t shifts;          /* industrial shape: 8-hour shifts per day */
    double burst_prob;       /* probability of a load burst in a slot */
    double burst_kwh;        /* kWh: mean energy of a burst (exponential) */
    double ev_sessions_day;  /* mean EV charging sessions per day (Poisson) */
    double ev_kwh;           /* kWh: mean energy of a session (lognormal, sigma 0.3) */
    double ev_kw;            /* kW: charger power */
    double ev_arrival_h;     /* h: mean arrival time of a session (normal, sd 2 h) */
};

/* One [agent.NAME] group: `count` agents of one type sharing these parameters. */
struct cfg_agent {
    char name[CFG_NAME_MAX];            /* NAME from the section header */
    int type;                           /* enum cfg_agent_type */
    int64_t count;                      /* agents in the group */
    int strategy;                       /* enum mkt_strategy, or CFG_AUTO_INT: market.strategy */
    double spread;                      /* relative spread of pv_kwp / load_kwh_day across the group */
    char generation_csv[CFG_STR_MAX];   /* one kWh value per slot instead of the PV model ("" = model) */
    char load_csv[CFG_STR_MAX];         /* one kWh value per slot instead of the load model */
    struct cfg_profile p;               /* overrides of the type preset ("auto" = preset) */
};

/* One raw key of a [sweep] section, kept as text for sim/core/sweep to interpret. */
struct cfg_sweep_entry {
    char key[2 * CFG_NAME_MAX];  /* "section.key" (or "seeds") as written */
    char value[CFG_STR_MAX];     /* the list, range or count, unparsed */
    char origin[CFG_STR_MAX];    /* file it came from */
    int line;                    /* line in that file */
};

struct cfg {
    struct {
        char name[CFG_NAME_MAX];
        char description[CFG_STR_MAX];
        int64_t seed;
    } scenario;
    struct {
        double days; /* simulated duration */
        int64_t threads; /* worker pool threads, the caller's included; 0 = every core */
    } sim;
    struct {
        int64_t slot_minutes;
        int64_t rounds_per_slot;
        int mechanism;        /* enum mkt_mechanism (sim/market/clear.h) */
        int strategy;         /* enum mkt_strategy (sim/market/strategy.h) */
        double price_epsilon; /* EUR/MWh: convergence threshold */
    } market;
    struct {
        int delay;           /* 0 constant, 1 exponential, 2 lognormal */
        double delay_mean_s;
        double delay_sigma;
        double loss;
    } network;
    struct {
        int backend; /* enum cfg_backend */
        int64_t threads;
        char platform[CFG_NAME_MAX];
        char device[CFG_NAME_MAX];
    } mine;
    struct {
        int64_t compression;
        int64_t chunk_rows;
        int agent_slots; /* write /agent_slots */
    } output;
    struct {
        double latitude;              /* degrees north */
        int64_t start_day;            /* day of year of simulated day 0 */
        int64_t start_weekday;        /* 0 = Monday ... 6 = Sunday */
        double clearness_mean;        /* mean daily fraction of clear-sky irradiance */
        double clearness_sd;          /* its standard deviation */
        double clearness_persistence; /* day-to-day AR(1) coefficient */
        double cloud_sigma;           /* lognormal sigma of per-slot PV output per installation */
    } weather;
    struct {
        double idle_kwh; /* |forecast net| at or below this: neither buyer nor seller */
    } grid;
    struct {
        int64_t count;                  /* agents generated in all (0 = none) */
        double share[CFG_AGENT_NTYPES]; /* relative weight of each type */
        double spread;                  /* lognormal sigma of pv_kwp / load_kwh_day multipliers */
        double bid_spread;              /* EUR/MWh: +- uniform jitter of the type's bids */
    } population;
    struct cfg_profile types[CFG_AGENT_NTYPES]; /* [type.NAME] presets */
    struct {
        int64_t nodes;                   /* consortium nodes that mine and validate */
        char hash_shares[CFG_STR_MAX];   /* comma list of relative hash rates ("" = equal) */
        int64_t difficulty_bits;         /* leading zero bits of the initial target */
        int64_t retarget_blocks;         /* retarget every this many blocks (0 = fixed) */
        double block_interval_s;         /* s: retarget goal and hash_rate = 0 reference */
        double hash_rate;                /* H/s: simulated network hash rate (0 = auto) */
        int64_t confirmations;           /* blocks (own included) before a trade settles */
        int64_t finality_depth;          /* blocks after which a block is written and pruned */
        double tx_window;                /* s: a block at header time T holds only transactions
                                            made in [T - tx_window, T] (whole seconds) */
        int64_t max_block_txs;           /* transactions per block at most */
        double propagation_min_s;        /* s: fixed part of every node-to-node delay */
        double propagation_jitter_s;     /* s: mean of the exponential part */
        double bandwidth_mbps;           /* Mbit/s: size-dependent part of a delay */
        double template_refresh_s;       /* s: miners rebuild their block template this often */
        int64_t initial_coins;           /* coins (1e-6 EUR) in every wallet at genesis */
        int64_t pseudonyms;              /* wallet addresses per agent */
    } chain;
    struct {
        /* message-level attacks, per message sent to the MiM agent (sim/security, sim/market) */
        double unregistered_rate;  /* a message from an identity the server never registered */
        double forged_mac_rate;    /* a message whose MAC was not made with the sender's key */
        double tamper_rate;        /* price or quantity changed in transit */
        double replay_rate;        /* an earlier message of the sender sent again */
        double impersonation_rate; /* a message claiming another agent's identity */
        /* chain-level attacks (sim/chain) follow */
        double double_spend_rate;    /* per trade: its buyer also signs away its whole balance */
        double tampered_block_rate;  /* per block: a relay sends an altered copy to every node */
        int64_t selfish_node;        /* node that withholds blocks (selfish mining), -1 = none */
    } attacks;
    struct {
        int mutual_key; /* enum id_mutual_model (sim/security/registry.h): bestowed or kx */
    } security;

    struct cfg_agent *agents; /* owned; n_agents groups in order of first appearance */
    size_t n_agents;
    size_t agents_cap;

    struct cfg_sweep_entry *sweep; /* owned; the [sweep] section's keys in order (not written
                                      by cfg_write: a resolved configuration is one point) */
    size_t n_sweep;
    size_t sweep_cap;

    char *files; /* owned; every scenario file read (the file, its use= files), each as its
                    realpath followed by '\n'; NULL when none (so an output never overwrites one) */
};

/* Fill `cfg` with the compiled defaults: global keys, the type presets, no agent groups.
 * Pair with cfg_fini(). */
void cfg_init(struct cfg *cfg);
void cfg_fini(struct cfg *cfg);

/* Apply a scenario file (and, first, the files its [scenario] use names).  0, ERR_CONFIG for
 * bad content, ERR_NOTFOUND / ERR_IO when a file cannot be read, ERR_NOMEM. */
int cfg_load_file(struct cfg *cfg, const char *path, struct err *e);

/* Apply INI text held in memory; `origin` names it in error messages. */
int cfg_load_string(struct cfg *cfg, const char *text, const char *origin, struct err *e);

/* Apply one "section.key=value" override (the --set flag).  0 or ERR_CONFIG. */
int cfg_set(struct cfg *cfg, const char *assignment, struct err *e);

/* Cross-key checks that single values cannot express (min_bid <= max_bid after presets are
 * applied, total agents, population shares).  0 or ERR_CONFIG. */
int cfg_validate(const struct cfg *cfg, struct err *e);

/* Each chain node's hash-rate share from [chain] hash_shares (empty = equal), normalised to sum
 * 1, into out[0..chain.nodes).  0, or ERR_CONFIG when the list does not parse, has a value < 0,
 * the wrong count, or sums to 0. */
int cfg_chain_shares(const struct cfg *cfg, double *out, struct err *e);

/* Write the fully resolved configuration as INI text that reproduces it.  0 or ERR_IO. */
int cfg_write(const struct cfg *cfg, FILE *out);

/* Same, into a new NUL-terminated heap string the caller frees; NULL when out of memory. */
char *cfg_to_string(const struct cfg *cfg);

/* Total agents over all groups and the population. */
int64_t cfg_agent_total(const struct cfg *cfg);

/* Group `g`'s parameters with every "auto" replaced by its type's preset. */
void cfg_agent_resolve(const struct cfg *cfg, const struct cfg_agent *g, struct cfg_profile *out);

/* Type by name ("home_solar"); -1 when unknown. */
int cfg_agent_type_from_name(const char *name);
const char *cfg_load_shape_name(int shape);

/* The compiled type presets as INI text (what configs/agent_types.ini must say). */
const char *cfg_type_presets(void);

/* Names of enum values, for output ("home_solar", "cpu"...). */
const char *cfg_agent_type_name(int type);
const char *cfg_backend_name(int backend);

/* Schema introspection, for the defaults test and `--help` texts.  Keys of [agent.NAME] groups
 * are listed with section "agent.*"; profile keys, valid in [type.NAME] and [agent.NAME], with
 * section "profile" (their defaults are per type: see cfg_type_presets()). */
struct cfg_key_info {
    const char *section;
    const char *name;
    const char *type;    /* "integer", "number", "boolean", "string", "choice" */
    const char *def;     /* default, as INI text */
    const char *unit;    /* "" when unitless */
    const char *help;
    char accepted[200];  /* "integer in [1, 1440]", "one of auto|opencl|cpu"... */
};
size_t cfg_key_count(void);
void cfg_key_get(size_t i, struct cfg_key_info *out);

/* Parse `value` as key section.name would be parsed, and say whether it equals the compiled
 * default.  1 equal, 0 different, negative ERR_CONFIG when the value is invalid or the key is
 * unknown (section "agent.*" for agent keys). */
int cfg_value_is_default(const char *section, const char *name, const char *value,
                         struct err *e);

#endif
