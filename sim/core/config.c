/*
 * config — the key schema, value parsing, and the INI loader on top of inih.
 *
 * inih is fed through a reader that counts lines, so the handler always knows the line it is
 * looking at (the packaged inih is built without line numbers in its callback) and can reject a
 * line longer than inih's buffer instead of letting it be split silently.
 *
 * Size (~1,500 lines, over the ~900 the README's design notes allow): the key schema is one
 * table (keys[]: a row per key with its type, range, default and documentation, from which
 * `make config-docs` writes CONFIG.md) that the value parser, the loader, the writer and the
 * introspection below all index; a key and its checks stay in one file.  The sections (values,
 * lifecycle, loading, writing, introspection) are the places a split would cut.
 */
#include "config.h"
#include "core/grow.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum key_type { KT_INT, KT_NUM, KT_BOOL, KT_STR, KT_ENUM, KT_USE, KT_PATH };

/* Key flags. */
#define KF_AUTO 1 /* "auto" accepted in [agent.NAME] groups: take the type preset */

struct key_def {
    const char *section; /* "agent.*" for keys of [agent.NAME] groups */
    const char *name;
    enum key_type type;
    size_t offset;       /* into struct cfg, or struct cfg_agent for agent keys */
    size_t size;         /* capacity of a KT_STR field */
    const char *def;     /* default as INI text */
    double min, max;     /* KT_INT / KT_NUM range */
    int min_open;        /* KT_NUM: min itself is excluded */
    const char *choices; /* KT_ENUM: "a|b|c", value = index */
    const char *unit;
    const char *help;
    int flags;           /* KF_* (0 when omitted from an entry) */
};

#define G(field) offsetof(struct cfg, field), sizeof(((struct cfg *)0)->field)
#define A(field) offsetof(struct cfg_agent, field), sizeof(((struct cfg_agent *)0)->field)
#define P(field) offsetof(struct cfg_profile, field), sizeof(((struct cfg_profile *)0)->field)
#define AGENT_SECTION "agent.*"
#define PROFILE_SECTION "profile" /* keys of both [type.NAME] and [agent.NAME] */
#define SHAPES "residential|office|industrial|device|flat"
#define AGENT_TYPES                                                                            \
    "home_solar|wearable|smart_device|smart_vehicle|personal_office|smart_factory|solar_system"

static const struct key_def keys[] = {
    {"scenario", "name", KT_STR, G(scenario.name), "setm", 0, 0, 0, NULL, "",
     "short name of the experiment, stored in the output", 0},
    {"scenario", "description", KT_STR, G(scenario.description), "", 0, 0, 0, NULL, "",
     "free text stored in the output", 0},
    {"scenario", "seed", KT_INT, G(scenario.seed), "1", 0, 9007199254740991.0, 0, NULL, "",
     "master seed; every random stream is derived from it and a stream name", 0},
    {"scenario", "use", KT_USE, 0, 0, "", 0, 0, 0, NULL, "",
     "comma-separated INI files applied before this file's own keys", 0},
    {"sim", "days", KT_NUM, G(sim.days), "1", 0, 3650, 1, NULL, "days",
     "simulated duration", 0},
    {"sim", "threads", KT_INT, G(sim.threads), "0", 0, 256, 0, NULL, "threads",
     "threads signing, verifying and deriving keys in parallel; 0 means one per core; results "
     "are the same for any value", 0},
    {"market", "slot_minutes", KT_INT, G(market.slot_minutes), "15", 1, 1440, 0, NULL, "minutes",
     "length of a market slot; 1440 must be a multiple of it", 0},
    {"market", "rounds_per_slot", KT_INT, G(market.rounds_per_slot), "5", 1, 1000, 0, NULL, "",
     "negotiation rounds the MiM agent clears in each slot", 0},
    {"market", "mechanism", KT_ENUM, G(market.mechanism), "negotiation", 0, 0, 0,
     "negotiation|pay_as_bid|pay_as_clear|cda", "",
     "clearing: the paper's negotiation, pay-as-bid, uniform-price pay-as-clear, or continuous "
     "double auction", 0},
    {"market", "strategy", KT_ENUM, G(market.strategy), "linear", 0, 0, 0, "fixed|linear|zic|zip|zi_u",
     "", "bidding strategy of agents whose group does not choose one", 0},
    {"market", "price_epsilon", KT_NUM, G(market.price_epsilon), "0.01", 0, 1000, 0, NULL,
     "EUR/MWh", "a round's price within this of the previous one counts as converged", 0},
    {"network", "delay", KT_ENUM, G(network.delay), "lognormal", 0, 0, 0,
     "constant|exponential|lognormal", "", "distribution of a message's network delay", 0},
    {"network", "delay_mean_s", KT_NUM, G(network.delay_mean_s), "0.05", 0, 3600, 0, NULL, "s",
     "mean network delay of a message", 0},
    {"network", "delay_sigma", KT_NUM, G(network.delay_sigma), "0.5", 0, 5, 0, NULL, "",
     "lognormal sigma of the delay (lognormal only)", 0},
    {"network", "loss", KT_NUM, G(network.loss), "0", 0, 1, 0, NULL, "",
     "probability that a message is lost", 0},
    {"mine", "backend", KT_ENUM, G(mine.backend), "auto", 0, 0, 0, "auto|opencl|cpu", "",
     "nonce-search backend; auto takes OpenCL when a working device exists, else the CPU", 0},
    {"mine", "threads", KT_INT, G(mine.threads), "0", 0, 1024, 0, NULL, "threads",
     "CPU backend threads; 0 means one per core", 0},
    {"mine", "platform", KT_STR, G(mine.platform), "", 0, 0, 0, NULL, "",
     "OpenCL platform: index or name substring; empty means the first with a usable device", 0},
    {"mine", "device", KT_STR, G(mine.device), "", 0, 0, 0, NULL, "",
     "OpenCL device: index or name substring; empty means the first usable one", 0},
    {"output", "compression", KT_INT, G(output.compression), "1", 0, 9, 0, NULL, "",
     "deflate level of HDF5 columns (0 = none); 1 costs half of 4's time for 6 % more bytes", 0},
    {"output", "agent_slots", KT_BOOL, G(output.agent_slots), "false", 0, 0, 0, NULL, "",
     "also write /agent_slots: one row per agent per slot (large: agents x slots rows)", 0},
    {"output", "chunk_rows", KT_INT, G(output.chunk_rows), "4096", 16, 10000000, 0, NULL, "rows",
     "HDF5 chunk size and write batch of every table", 0},
    {"chain", "nodes", KT_INT, G(chain.nodes), "4", 1, 64, 0, NULL, "nodes",
     "consortium nodes that mine, relay and validate blocks", 0},
    {"chain", "hash_shares", KT_STR, G(chain.hash_shares), "", 0, 0, 0, NULL, "",
     "comma list of each node's relative hash rate, one per node (empty = equal shares)", 0},
    {"chain", "difficulty_bits", KT_INT, G(chain.difficulty_bits), "12", 1, 40, 0, NULL, "bits",
     "leading zero bits of the initial target: about 2^bits hashes per block (above 32 the "
     "header time rolls; above 40 even 7200 rolls of 2^32 nonces may hold no solution)", 0},
    {"chain", "retarget_blocks", KT_INT, G(chain.retarget_blocks), "0", 0, 100000, 0, NULL,
     "blocks", "retarget toward block_interval_s every this many blocks (0 = fixed difficulty)",
     0},
    {"chain", "block_interval_s", KT_NUM, G(chain.block_interval_s), "60", 0, 1e7, 1, NULL, "s",
     "target mean time between blocks (retarget goal; sets hash_rate = 0)", 0},
    {"chain", "hash_rate", KT_NUM, G(chain.hash_rate), "0", 0, 1e18, 0, NULL, "H/s",
     "simulated network hash rate; 0 = 2^difficulty_bits / block_interval_s", 0},
    {"chain", "confirmations", KT_INT, G(chain.confirmations), "6", 1, 1000, 0, NULL, "blocks",
     "main-chain blocks (its own included) after which a trade settles and coins move", 0},
    {"chain", "finality_depth", KT_INT, G(chain.finality_depth), "100", 1, 100000, 0, NULL,
     "blocks", "depth after which a block is final: written out, pruned, never reorganised "
     "(a branch forking below it is abandoned)",
     0},
    {"chain", "tx_window", KT_NUM, G(chain.tx_window), "86400", 1, 31536000, 0, NULL, "s",
     "a block at header time T takes only transactions made in [T - tx_window, T]; older pending "
     "ones expire, and nodes forget final ids out of it", 0},
    {"chain", "max_block_txs", KT_INT, G(chain.max_block_txs), "2000", 1, 1000000, 0, NULL,
     "transactions", "transactions per block at most", 0},
    {"chain", "propagation_min_s", KT_NUM, G(chain.propagation_min_s), "0.05", 0, 3600, 0, NULL,
     "s", "fixed part of every node-to-node delay of a block or transaction", 0},
    {"chain", "propagation_jitter_s", KT_NUM, G(chain.propagation_jitter_s), "0.2", 0, 3600, 0,
     NULL, "s", "mean of the exponential part of a node-to-node delay", 0},
    {"chain", "bandwidth_mbps", KT_NUM, G(chain.bandwidth_mbps), "10", 0, 1e6, 1, NULL, "Mbit/s",
     "link speed: a block of B bytes adds 8 B / bandwidth to its delay", 0},
    {"chain", "template_refresh_s", KT_NUM, G(chain.template_refresh_s), "15", 0, 1e6, 1, NULL,
     "s", "miners rebuild their block template (new transactions) at least this often", 0},
    {"chain", "initial_coins", KT_INT, G(chain.initial_coins), "1000000000000", 0, 1e15, 0, NULL,
     "coins",
     "energy coins (1 coin = 1e-6 EUR) in every agent's wallet at genesis; the default (1 M EUR) "
     "lets honest buyers trade for years, so only attacks overspend", 0},
    {"chain", "pseudonyms", KT_INT, G(chain.pseudonyms), "1", 1, 1024, 0, NULL, "addresses",
     "wallet addresses per agent, used as pseudonyms trade by trade (paper 5.1)", 0},
    {"attacks", "unregistered_rate", KT_NUM, G(attacks.unregistered_rate), "0", 0, 1, 0, NULL, "",
     "probability per market message of an extra message from an unregistered identity", 0},
    {"attacks", "forged_mac_rate", KT_NUM, G(attacks.forged_mac_rate), "0", 0, 1, 0, NULL, "",
     "probability per market message that its MAC is forged", 0},
    {"attacks", "tamper_rate", KT_NUM, G(attacks.tamper_rate), "0", 0, 1, 0, NULL, "",
     "probability per market message that its price or quantity is changed in transit", 0},
    {"attacks", "replay_rate", KT_NUM, G(attacks.replay_rate), "0", 0, 1, 0, NULL, "",
     "probability per market message that an earlier message of its sender is replayed", 0},
    {"attacks", "impersonation_rate", KT_NUM, G(attacks.impersonation_rate), "0", 0, 1, 0, NULL,
     "", "probability per market message of an extra message claiming the sender's identity", 0},
    {"attacks", "double_spend_rate", KT_NUM, G(attacks.double_spend_rate), "0", 0, 1, 0, NULL, "",
     "probability per trade that its first buyer also signs its whole balance over to another "
     "agent (one of the two spends must be rejected)", 0},
    {"attacks", "tampered_block_rate", KT_NUM, G(attacks.tampered_block_rate), "0", 0, 1, 0, NULL,
     "", "probability per published block that a relay node sends every other node an altered "
     "copy (one byte flipped)", 0},
    {"attacks", "selfish_node", KT_INT, G(attacks.selfish_node), "-1", -1, 63, 0, NULL, "",
     "node that withholds its blocks and mines selfishly (Eyal-Sirer); -1 = none", 0},
    {"security", "mutual_key", KT_ENUM, G(security.mutual_key), "bestowed", 0, 0, 0, "bestowed|kx",
     "", "a trading pair's mutual key: bestowed (the paper's: derived by the server, delivered "
     "sealed under each party's server key) or kx (each party derives it with X25519, crypto_kx)",
     0},
    {"weather", "latitude", KT_NUM, G(weather.latitude), "37.5", -66, 66, 0, NULL, "degrees",
     "latitude of the neighbourhood (north positive), for the clear-sky PV curve", 0},
    {"weather", "start_day", KT_INT, G(weather.start_day), "172", 1, 365, 0, NULL, "day of year",
     "day of year of simulated day 0", 0},
    {"weather", "start_weekday", KT_INT, G(weather.start_weekday), "0", 0, 6, 0, NULL, "",
     "weekday of simulated day 0: 0 = Monday ... 6 = Sunday", 0},
    {"weather", "clearness_mean", KT_NUM, G(weather.clearness_mean), "0.7", 0.05, 1, 0, NULL, "",
     "mean daily fraction of clear-sky irradiance reaching the panels", 0},
    {"weather", "clearness_sd", KT_NUM, G(weather.clearness_sd), "0.15", 0, 0.5, 0, NULL, "",
     "standard deviation of the daily clearness", 0},
    {"weather", "clearness_persistence", KT_NUM, G(weather.clearness_persistence), "0.6", 0, 0.99,
     0, NULL, "", "day-to-day AR(1) coefficient of the clearness (0 = independent days)", 0},
    {"weather", "cloud_sigma", KT_NUM, G(weather.cloud_sigma), "0.15", 0, 2, 0, NULL, "",
     "lognormal sigma of each PV installation's per-slot output around the daily clearness", 0},
    {"grid", "idle_kwh", KT_NUM, G(grid.idle_kwh), "0.001", 0, 1000, 0, NULL, "kWh",
     "an agent whose forecast net energy is within this of zero neither buys nor sells", 0},
    {"population", "count", KT_INT, G(population.count), "0", 0, CFG_MAX_AGENTS, 0, NULL,
     "agents", "agents generated from the type shares below (0 = none)", 0},
    {"population", "home_solar", KT_NUM, G(population.share[CFG_AGENT_HOME_SOLAR]), "0", 0, 1e6,
     0, NULL, "", "relative share of home_solar agents", 0},
    {"population", "wearable", KT_NUM, G(population.share[CFG_AGENT_WEARABLE]), "0", 0, 1e6, 0,
     NULL, "", "relative share of wearable agents", 0},
    {"population", "smart_device", KT_NUM, G(population.share[CFG_AGENT_SMART_DEVICE]), "0", 0,
     1e6, 0, NULL, "", "relative share of smart_device agents", 0},
    {"population", "smart_vehicle", KT_NUM, G(population.share[CFG_AGENT_SMART_VEHICLE]), "0", 0,
     1e6, 0, NULL, "", "relative share of smart_vehicle agents", 0},
    {"population", "personal_office", KT_NUM, G(population.share[CFG_AGENT_PERSONAL_OFFICE]), "0",
     0, 1e6, 0, NULL, "", "relative share of personal_office agents", 0},
    {"population", "smart_factory", KT_NUM, G(population.share[CFG_AGENT_SMART_FACTORY]), "0", 0,
     1e6, 0, NULL, "", "relative share of smart_factory agents", 0},
    {"population", "solar_system", KT_NUM, G(population.share[CFG_AGENT_SOLAR_SYSTEM]), "0", 0,
     1e6, 0, NULL, "", "relative share of solar_system agents", 0},
    {"population", "spread", KT_NUM, G(population.spread), "0.2", 0, 2, 0, NULL, "",
     "lognormal sigma of each agent's multiplier on pv_kwp and load_kwh_day", 0},
    {"population", "bid_spread", KT_NUM, G(population.bid_spread), "2", 0, 1000, 0, NULL,
     "EUR/MWh", "each agent's bids are its type's, shifted by a uniform draw in +-bid_spread", 0},
    {AGENT_SECTION, "type", KT_ENUM, A(type), "home_solar", 0, 0, 0, AGENT_TYPES, "",
     "agent type (the paper's Table 1); its [type.NAME] preset fills every 'auto' key", 0},
    {AGENT_SECTION, "count", KT_INT, A(count), "1", 1, CFG_MAX_AGENTS, 0, NULL, "agents",
     "number of agents in the group", 0},
    {AGENT_SECTION, "strategy", KT_ENUM, A(strategy), "auto", 0, 0, 0, "fixed|linear|zic|zip|zi_u", "",
     "bidding strategy of the group (auto = market.strategy)", KF_AUTO},
    {AGENT_SECTION, "spread", KT_NUM, A(spread), "0", 0, 2, 0, NULL, "",
     "lognormal sigma of each agent's multiplier on pv_kwp and load_kwh_day", 0},
    {AGENT_SECTION, "generation_csv", KT_PATH, A(generation_csv), "", 0, 0, 0, NULL, "",
     "CSV with one generation value (kWh) per slot, replacing the PV model (empty = model)", 0},
    {AGENT_SECTION, "load_csv", KT_PATH, A(load_csv), "", 0, 0, 0, NULL, "",
     "CSV with one load value (kWh) per slot, replacing the load model (empty = model)", 0},
    {PROFILE_SECTION, "min_bid", KT_NUM, P(min_bid), "auto", 0, 100000, 0, NULL, "EUR/MWh",
     "a buyer's opening bid, a seller's lowest acceptable price", KF_AUTO},
    {PROFILE_SECTION, "max_bid", KT_NUM, P(max_bid), "auto", 0, 100000, 0, NULL, "EUR/MWh",
     "a buyer's highest acceptable price, a seller's opening ask", KF_AUTO},
    {PROFILE_SECTION, "forecast_days", KT_INT, P(forecast_days), "auto", 1, 5000, 0, NULL, "days",
     "days of own history the next-slot forecast averages over", KF_AUTO},
    {PROFILE_SECTION, "pv_kwp", KT_NUM, P(pv_kwp), "auto", 0, 1e6, 0, NULL, "kW",
     "peak power of the PV installation (0 = none)", KF_AUTO},
    {PROFILE_SECTION, "load_kwh_day", KT_NUM, P(load_kwh_day), "auto", 0, 1e7, 0, NULL,
     "kWh/day", "mean daily base load (EV sessions and bursts come on top)", KF_AUTO},
    {PROFILE_SECTION, "load_shape", KT_ENUM, P(load_shape), "auto", 0, 0, 0, SHAPES, "",
     "daily/weekly shape of the base load", KF_AUTO},
    {PROFILE_SECTION, "load_sigma", KT_NUM, P(load_sigma), "auto", 0, 2, 0, NULL, "",
     "lognormal sigma of the per-slot load noise (mean preserved)", KF_AUTO},
    {PROFILE_SECTION, "weekend_factor", KT_NUM, P(weekend_factor), "auto", 0, 10, 0, NULL, "",
     "base load multiplier on Saturday and Sunday", KF_AUTO},
    {PROFILE_SECTION, "shifts", KT_INT, P(shifts), "auto", 1, 3, 0, NULL, "",
     "8-hour shifts per day from 06:00 (industrial shape)", KF_AUTO},
    {PROFILE_SECTION, "burst_prob", KT_NUM, P(burst_prob), "auto", 0, 1, 0, NULL, "",
     "probability of a load burst in a slot", KF_AUTO},
    {PROFILE_SECTION, "burst_kwh", KT_NUM, P(burst_kwh), "auto", 0, 1e4, 0, NULL, "kWh",
     "mean energy of a burst (exponential)", KF_AUTO},
    {PROFILE_SECTION, "ev_sessions_day", KT_NUM, P(ev_sessions_day), "auto", 0, 10, 0, NULL, "",
     "mean EV charging sessions per day (Poisson)", KF_AUTO},
    {PROFILE_SECTION, "ev_kwh", KT_NUM, P(ev_kwh), "auto", 0, 1000, 0, NULL, "kWh",
     "mean energy of a charging session (lognormal, sigma 0.3)", KF_AUTO},
    {PROFILE_SECTION, "ev_kw", KT_NUM, P(ev_kw), "auto", 0, 1000, 1, NULL, "kW",
     "charger power", KF_AUTO},
    {PROFILE_SECTION, "ev_arrival_h", KT_NUM, P(ev_arrival_h), "auto", 0, 24, 0, NULL, "h",
     "mean arrival time of a charging session (normal, sd 2 h)", KF_AUTO},
};

#define NKEYS (sizeof keys / sizeof keys[0])

/* ---- values ------------------------------------------------------------------------------ */

static void accepted_text(const struct key_def *k, char *buf, size_t n)
{
    switch (k->type) {
    case KT_INT:
        snprintf(buf, n, "integer in [%.0f, %.0f]", k->min, k->max);
        break;
    case KT_NUM:
        snprintf(buf, n, "number in %c%g, %g]", k->min_open ? '(' : '[', k->min, k->max);
        break;
    case KT_BOOL:
        snprintf(buf, n, "true or false");
        break;
    case KT_STR:
        snprintf(buf, n, "text of at most %zu characters", k->size - 1);
        break;
    case KT_ENUM: {
        size_t len = (size_t)snprintf(buf, n, "one of ");
        for (const char *c = k->choices; *c && len + 3 < n; c++) {
            if (*c == '|') {
                buf[len++] = ',';
                buf[len++] = ' ';
            } else {
                buf[len++] = *c;
            }
        }
        buf[len] = '\0';
        break;
    }
    case KT_USE:
        snprintf(buf, n, "comma-separated file names");
        break;
    case KT_PATH:
        snprintf(buf, n, "a file name of at most %zu characters, or empty", k->size - 1);
        break;
    }
    if (k->flags & KF_AUTO) {
        size_t len = strlen(buf);
        snprintf(buf + len, n - len, ", or auto in [agent.NAME]");
    }
}

static int enum_index(const char *choices, const char *v)
{
    int idx = 0;
    size_t vl = strlen(v);
    for (const char *p = choices; *p; idx++) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == vl && !strncmp(p, v, len))
            return idx;
        if (!bar)
            break;
        p = bar + 1;
    }
    return -1;
}

/* Copy the idx-th choice into buf (for writing enums back out). */
static const char *enum_name(const char *choices, int idx, char *buf, size_t n)
{
    const char *p = choices;
    for (int i = 0; i < idx && p; i++) {
        p = strchr(p, '|');
        if (p)
            p++;
    }
    if (!p) {
        snprintf(buf, n, "?");
        return buf;
    }
    {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        snprintf(buf, n, "%.*s", (int)len, p);
    }
    return buf;
}

/* Store the "auto" sentinel of k's type. */
static void value_set_auto(const struct key_def *k, void *dst)
{
    if (k->type == KT_NUM)
        *(double *)dst = NAN;
    else if (k->type == KT_INT)
        *(int64_t *)dst = CFG_AUTO_INT;
    else
        *(int *)dst = CFG_AUTO_INT;
}

static int value_is_auto(const struct key_def *k, const void *src)
{
    if (!(k->flags & KF_AUTO))
        return 0;
    if (k->type == KT_NUM)
        return isnan(*(const double *)src);
    if (k->type == KT_INT)
        return *(const int64_t *)src == CFG_AUTO_INT;
    return *(const int *)src == CFG_AUTO_INT;
}

/* Why text cannot be stored, or NULL: it must survive being written back as INI (the resolved
 * scenario in every output file) and go into a UTF-8 HDF5 attribute. */
static const char *text_problem(const char *v)
{
    const unsigned char *p = (const unsigned char *)v;
    for (size_t i = 0; p[i]; i++) {
        if (p[i] < 0x20 || p[i] == 0x7f)
            return "contains a control character";
        if (p[i] == ';' && (i == 0 || p[i - 1] == ' ' || p[i - 1] == '\t'))
            return "';' at the start or after a space begins a comment";
        if (p[i] == '#' && (i == 0 || p[i - 1] == ' ' || p[i - 1] == '\t'))
            return "'#' at the start or after a space begins a comment";
    }
    while (*p) { /* UTF-8: lead byte, then the right number of continuation bytes */
        int n = *p < 0x80 ? 0 : (*p & 0xe0) == 0xc0 ? 1 : (*p & 0xf0) == 0xe0 ? 2
              : (*p & 0xf8) == 0xf0 ? 3 : -1;
        if (n < 0 || (n == 1 && *p < 0xc2))
            return "not valid UTF-8";
        p++;
        for (int k = 0; k < n; k++, p++)
            if ((*p & 0xc0) != 0x80)
                return "not valid UTF-8";
    }
    return NULL;
}

/* Parse `v` per `k` into `dst` (the field itself).  `auto_ok`: "auto" is accepted (keys with
 * KF_AUTO in [agent.NAME] groups).  Returns NULL on success, else why not. */
static const char *value_parse(const struct key_def *k, const char *v, void *dst, int auto_ok)
{
    char *end;
    if ((k->flags & KF_AUTO) && !strcmp(v, "auto")) {
        if (!auto_ok)
            return "auto is only meaningful in [agent.NAME]";
        value_set_auto(k, dst);
        return NULL;
    }
    switch (k->type) {
    case KT_INT: {
        long long x;
        if (!*v)
            return "empty value";
        errno = 0;
        x = strtoll(v, &end, 10);
        if (*end || end == v)
            return "not an integer";
        if (errno == ERANGE || (double)x < k->min || (double)x > k->max)
            return "out of range";
        *(int64_t *)dst = x;
        return NULL;
    }
    case KT_NUM: {
        double x;
        if (!*v)
            return "empty value";
        x = strtod(v, &end);
        if (*end || end == v)
            return "not a number";
        if (!isfinite(x) || x < k->min || x > k->max || (k->min_open && x == k->min))
            return "out of range";
        *(double *)dst = x;
        return NULL;
    }
    case KT_BOOL:
        if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on") || !strcmp(v, "1"))
            *(int *)dst = 1;
        else if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off") || !strcmp(v, "0"))
            *(int *)dst = 0;
        else
            return "not a boolean";
        return NULL;
    case KT_STR:
    case KT_PATH: {
        const char *why = text_problem(v);
        if (why)
            return why;
        if (strlen(v) >= k->size)
            return "too long";
        memcpy(dst, v, strlen(v) + 1);
        return NULL;
    }
    case KT_ENUM: {
        int idx = enum_index(k->choices, v);
        if (idx < 0)
            return "not an accepted choice";
        *(int *)dst = idx;
        return NULL;
    }
    case KT_USE:
        return NULL;
    }
    return "unsupported key type";
}

static void value_format(const struct key_def *k, const void *src, char *buf, size_t n)
{
    if (value_is_auto(k, src)) {
        snprintf(buf, n, "auto");
        return;
    }
    switch (k->type) {
    case KT_INT:
        snprintf(buf, n, "%lld", (long long)*(const int64_t *)src);
        break;
    case KT_NUM: {
        /* The shortest form that reads back as the same double (the resolved text must
         * reproduce the run exactly, and people read it too). */
        double v = *(const double *)src;
        for (int prec = 6; prec <= 17; prec++) {
            snprintf(buf, n, "%.*g", prec, v);
            if (strtod(buf, NULL) == v)
                break;
        }
        break;
    }
    case KT_BOOL:
        snprintf(buf, n, "%s", *(const int *)src ? "true" : "false");
        break;
    case KT_STR:
    case KT_PATH:
        snprintf(buf, n, "%s", (const char *)src);
        break;
    case KT_ENUM:
        enum_name(k->choices, *(const int *)src, buf, n);
        break;
    case KT_USE:
        buf[0] = '\0';
        break;
    }
}

static const struct key_def *key_find(const char *section, const char *name)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (!strcmp(keys[i].section, section) && !strcmp(keys[i].name, name))
            return &keys[i];
    return NULL;
}

/* Levenshtein distance of two short names (longer than 63 bytes: a large number). */
static size_t name_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), row[64];
    if (la >= 64 || lb >= 64)
        return 1000;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* " did you mean ...?" for an unknown key `name` of schema section `schema` (`agent`: [agent.NAME]
 * keys count too) into buf: the closest key of that section within a third of the name's length
 * (at least 2 edits), else the section that has a key of exactly that name; "" when neither. */
static void key_suggest(const char *schema, int agent, const char *name, char *buf, size_t cap)
{
    const struct key_def *best = NULL;
    size_t bestd = strlen(name) / 3 > 2 ? strlen(name) / 3 : 2;
    buf[0] = '\0';
    for (size_t i = 0; i < NKEYS; i++) {
        size_t d;
        if (strcmp(keys[i].section, schema) && !(agent && !strcmp(keys[i].section, AGENT_SECTION)))
            continue;
        d = name_distance(name, keys[i].name);
        if (d <= bestd && (!best || d < bestd)) {
            best = &keys[i];
            bestd = d;
        }
    }
    if (best) {
        snprintf(buf, cap, ": did you mean '%s'?", best->name);
        return;
    }
    for (size_t i = 0; i < NKEYS; i++)
        if (!strcmp(keys[i].name, name) && strcmp(keys[i].section, AGENT_SECTION) &&
            strcmp(keys[i].section, PROFILE_SECTION)) {
            snprintf(buf, cap, ": did you mean [%s] %s?", keys[i].section, name);
            return;
        }
}

static int section_known(const char *section)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (!strcmp(keys[i].section, section))
            return 1;
    return 0;
}

static void apply_defaults(const char *section, void *base)
{
    for (size_t i = 0; i < NKEYS; i++) {
        const char *why;
        if (strcmp(keys[i].section, section) != 0 || keys[i].type == KT_USE)
            continue;
        why = value_parse(&keys[i], keys[i].def, (char *)base + keys[i].offset, 1);
        assert(!why && "compiled default must parse");
        (void)why;
    }
}

/*
 * The type presets: profile parameters of each Table 1 type, and its bids and forecast window
 * from Table 1.  configs/agent_types.ini documents the same values; test_config keeps the two in
 * step.  Generation and load figures are typical values for each kind of installation, chosen
 * so the case study has sellers (the generator, home PV at midday) and buyers all day.
 */
static const char type_presets[] =
    "[type.home_solar]\n"
    "min_bid = 34\nmax_bid = 46\nforecast_days = 9\npv_kwp = 5\nload_kwh_day = 10\n"
    "load_shape = residential\nload_sigma = 0.35\nweekend_factor = 1.1\nshifts = 1\n"
    "burst_prob = 0\nburst_kwh = 0\nev_sessions_day = 0\nev_kwh = 0\nev_kw = 7.4\n"
    "ev_arrival_h = 18\n"
    "[type.wearable]\n"
    "min_bid = 34\nmax_bid = 46\nforecast_days = 4\npv_kwp = 0\nload_kwh_day = 0.05\n"
    "load_shape = device\nload_sigma = 0.5\nweekend_factor = 1\nshifts = 1\n"
    "burst_prob = 0.05\nburst_kwh = 0.01\nev_sessions_day = 0\nev_kwh = 0\nev_kw = 7.4\n"
    "ev_arrival_h = 18\n"
    "[type.smart_device]\n"
    "min_bid = 36\nmax_bid = 48\nforecast_days = 9\npv_kwp = 0\nload_kwh_day = 1.5\n"
    "load_shape = device\nload_sigma = 0.4\nweekend_factor = 1.2\nshifts = 1\n"
    "burst_prob = 0.1\nburst_kwh = 0.05\nev_sessions_day = 0\nev_kwh = 0\nev_kw = 7.4\n"
    "ev_arrival_h = 18\n"
    "[type.smart_vehicle]\n"
    "min_bid = 36\nmax_bid = 48\nforecast_days = 18\npv_kwp = 0\nload_kwh_day = 0.5\n"
    "load_shape = flat\nload_sigma = 0.1\nweekend_factor = 1\nshifts = 1\n"
    "burst_prob = 0\nburst_kwh = 0\nev_sessions_day = 0.8\nev_kwh = 15\nev_kw = 7.4\n"
    "ev_arrival_h = 18\n"
    "[type.personal_office]\n"
    "min_bid = 38\nmax_bid = 48\nforecast_days = 8\npv_kwp = 0\nload_kwh_day = 25\n"
    "load_shape = office\nload_sigma = 0.25\nweekend_factor = 0.3\nshifts = 1\n"
    "burst_prob = 0\nburst_kwh = 0\nev_sessions_day = 0\nev_kwh = 0\nev_kw = 7.4\n"
    "ev_arrival_h = 18\n"
    "[type.smart_factory]\n"
    "min_bid = 36\nmax_bid = 50\nforecast_days = 1393\npv_kwp = 0\nload_kwh_day = 2000\n"
    "load_shape = industrial\nload_sigma = 0.1\nweekend_factor = 0.4\nshifts = 2\n"
    "burst_prob = 0\nburst_kwh = 0\nev_sessions_day = 0\nev_kwh = 0\nev_kw = 7.4\n"
    "ev_arrival_h = 18\n"
    "[type.solar_system]\n"
    "min_bid = 40\nmax_bid = 52\nforecast_days = 342\npv_kwp = 500\nload_kwh_day = 5\n"
    "load_shape = flat\nload_sigma = 0.2\nweekend_factor = 1\nshifts = 1\n"
    "burst_prob = 0\nburst_kwh = 0\nev_sessions_day = 0\nev_kwh = 0\nev_kw = 7.4\n"
    "ev_arrival_h = 18\n";

const char *cfg_type_presets(void) { return type_presets; }

/* ---- public: lifecycle, enums ---------------------------------------------------------- */

static int load_text_plain(struct cfg *cfg, const char *text, const char *origin, struct err *e);

void cfg_init(struct cfg *cfg)
{
    int rc;
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < NKEYS; i++) {
        const char *sec = keys[i].section;
        if (strcmp(sec, AGENT_SECTION) != 0 && strcmp(sec, PROFILE_SECTION) != 0 &&
            keys[i].type != KT_USE)
            value_parse(&keys[i], keys[i].def, (char *)cfg + keys[i].offset, 0);
    }
    rc = load_text_plain(cfg, type_presets, "compiled type presets", NULL);
    assert(rc == 0 && "compiled type presets must load");
    (void)rc;
}

void cfg_fini(struct cfg *cfg)
{
    if (!cfg)
        return;
    free(cfg->agents);
    cfg->agents = NULL;
    cfg->n_agents = cfg->agents_cap = 0;
    free(cfg->sweep);
    cfg->sweep = NULL;
    cfg->n_sweep = cfg->sweep_cap = 0;
    free(cfg->files);
    cfg->files = NULL;
}

/* Remember a file read, for cfg->files.  0 or -1 (out of memory). */
static int files_add(struct cfg *cfg, const char *real)
{
    size_t old = cfg->files ? strlen(cfg->files) : 0, n = strlen(real);
    char *p = realloc(cfg->files, old + n + 2);
    if (!p)
        return -1;
    memcpy(p + old, real, n);
    p[old + n] = '\n';
    p[old + n + 1] = '\0';
    cfg->files = p;
    return 0;
}

/* Keep a [sweep] key verbatim; a later file's value for the same key replaces it. */
static int sweep_store(struct cfg *cfg, const char *key, const char *value, const char *origin,
                       int line)
{
    struct cfg_sweep_entry *s = NULL;
    for (size_t i = 0; i < cfg->n_sweep; i++)
        if (!strcmp(cfg->sweep[i].key, key))
            s = &cfg->sweep[i];
    if (!s) {
        if (grow_array(&cfg->sweep, &cfg->sweep_cap, cfg->n_sweep + 1, sizeof *cfg->sweep))
            return ERR_NOMEM;
        s = &cfg->sweep[cfg->n_sweep++];
        memset(s, 0, sizeof *s);
    }
    snprintf(s->key, sizeof s->key, "%s", key);
    snprintf(s->value, sizeof s->value, "%s", value);
    snprintf(s->origin, sizeof s->origin, "%s", origin);
    s->line = line;
    return 0;
}

const char *cfg_agent_type_name(int type)
{
    static const char *const names[] = {"home_solar",      "wearable",      "smart_device",
                                        "smart_vehicle",   "personal_office", "smart_factory",
                                        "solar_system"};
    return (type >= 0 && type < CFG_AGENT_NTYPES) ? names[type] : "unknown";
}

int cfg_agent_type_from_name(const char *name)
{
    for (int t = 0; t < CFG_AGENT_NTYPES; t++)
        if (!strcmp(cfg_agent_type_name(t), name))
            return t;
    return -1;
}

const char *cfg_load_shape_name(int shape)
{
    static const char *const names[] = {"residential", "office", "industrial", "device", "flat"};
    return (shape >= 0 && shape < CFG_NSHAPES) ? names[shape] : "auto";
}

void cfg_agent_resolve(const struct cfg *cfg, const struct cfg_agent *g, struct cfg_profile *out)
{
    const struct cfg_profile *preset = &cfg->types[g->type];
    *out = g->p;
    for (size_t i = 0; i < NKEYS; i++) {
        const struct key_def *k = &keys[i];
        if (strcmp(k->section, PROFILE_SECTION) != 0)
            continue;
        if (value_is_auto(k, (const char *)out + k->offset))
            memcpy((char *)out + k->offset, (const char *)preset + k->offset, k->size);
    }
}

const char *cfg_backend_name(int backend)
{
    switch (backend) {
    case CFG_BACKEND_AUTO: return "auto";
    case CFG_BACKEND_OPENCL: return "opencl";
    case CFG_BACKEND_CPU: return "cpu";
    default: return "unknown";
    }
}

int64_t cfg_agent_total(const struct cfg *cfg)
{
    int64_t n = cfg->population.count;
    for (size_t i = 0; i < cfg->n_agents; i++)
        n += cfg->agents[i].count;
    return n;
}

/* ---- loading ----------------------------------------------------------------------------- */

#define USE_MAX_DEPTH 16

struct text_reader {
    const char *text;
    size_t pos, len;
    int line;     /* line most recently handed to inih (1-based) */
    int too_long; /* first line that did not fit inih's buffer, 0 if none */
    int indented; /* that line starts with a space or tab */
};

/* inih's ini_reader over a memory buffer, counting lines and catching over-long ones. */
static char *text_read_line(char *buf, int num, void *stream)
{
    struct text_reader *r = stream;
    size_t n = 0;
    if (r->pos >= r->len)
        return NULL;
    r->line++;
    r->indented = r->text[r->pos] == ' ' || r->text[r->pos] == '\t';
    while (r->pos < r->len) {
        char c = r->text[r->pos++];
        if ((int)n < num - 1)
            buf[n++] = c;
        else if (!r->too_long && c != '\n' && c != '\r')
            r->too_long = r->line;
        if (c == '\n')
            break;
    }
    buf[n] = '\0';
    return buf;
}

struct load_ctx {
    struct cfg *cfg;
    const char *origin; /* file name or "--set" for messages */
    const char *path;   /* file being read (relative paths in it resolve beside it), or NULL */
    struct text_reader *reader;
    int collect_use;    /* pass 1: only record [scenario] use */
    char use[4 * CFG_STR_MAX];
    int use_line;
    char prev_name[INI_MAX_LINE]; /* key of the previous callback in this pass, and its line */
    int prev_line;
    char **seen;        /* "section\nkey" already set in this file */
    size_t n_seen, cap_seen;
    struct err *e;
    int rc;             /* first failure */
};

static int fail(struct load_ctx *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct load_ctx *c, int code, const char *fmt, ...)
{
    char msg[ERR_MSG_MAX];
    va_list ap;
    if (c->rc)
        return 0; /* keep the first error */
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->reader)
        err_set(c->e, code, "%s:%d: %s", c->origin, c->reader->line, msg);
    else
        err_set(c->e, code, "%s: %s", c->origin, msg);
    c->rc = code;
    return 0;
}

static int seen_add(struct load_ctx *c, const char *section, const char *name)
{
    size_t len = strlen(section) + strlen(name) + 2;
    char *s;
    for (size_t i = 0; i < c->n_seen; i++) {
        const char *nl = strchr(c->seen[i], '\n');
        if ((size_t)(nl - c->seen[i]) == strlen(section) &&
            !strncmp(c->seen[i], section, strlen(section)) && !strcmp(nl + 1, name))
            return 1;
    }
    if (grow_array(&c->seen, &c->cap_seen, c->n_seen + 1, sizeof *c->seen))
        return -1;
    s = malloc(len);
    if (!s)
        return -1;
    snprintf(s, len, "%s\n%s", section, name);
    c->seen[c->n_seen++] = s;
    return 0;
}

static int agent_name_ok(const char *n)
{
    if (!*n || strlen(n) >= CFG_NAME_MAX)
        return 0;
    for (; *n; n++)
        if (!isalnum((unsigned char)*n) && *n != '_' && *n != '-')
            return 0;
    return 1;
}

static struct cfg_agent *agent_group(struct cfg *cfg, const char *name, int *oom)
{
    struct cfg_agent *g;
    *oom = 0;
    for (size_t i = 0; i < cfg->n_agents; i++)
        if (!strcmp(cfg->agents[i].name, name))
            return &cfg->agents[i];
    if (cfg->n_agents >= CFG_MAX_AGENT_GROUPS)
        return NULL;
    if (grow_array(&cfg->agents, &cfg->agents_cap, cfg->n_agents + 1, sizeof *cfg->agents)) {
        *oom = 1;
        return NULL;
    }
    g = &cfg->agents[cfg->n_agents++];
    memset(g, 0, sizeof *g);
    snprintf(g->name, sizeof g->name, "%s", name);
    apply_defaults(AGENT_SECTION, g);
    apply_defaults(PROFILE_SECTION, &g->p);
    return g;
}

/* Store a path value: relative to the directory of the file that names it. */
static const char *path_store(const struct load_ctx *c, const struct key_def *k, const char *v,
                              void *dst)
{
    const char *slash = c->path ? strrchr(c->path, '/') : NULL;
    char buf[CFG_STR_MAX + 8];
    if (!*v || v[0] == '/' || !slash)
        return value_parse(k, v, dst, 0);
    if ((size_t)snprintf(buf, sizeof buf, "%.*s/%s", (int)(slash - c->path), c->path, v) >=
        k->size)
        return "too long once made relative to this file's directory";
    return value_parse(k, buf, dst, 0);
}

/* Which schema section and storage a section header addresses.  Returns the schema section
 * name for the key, or NULL after reporting the error. */
static const char *section_target(struct load_ctx *c, const char *section, const char *name,
                                  void **base, int *auto_ok)
{
    *auto_ok = 0;
    *base = c->cfg;
    if (!strncmp(section, "agent.", 6)) {
        if (!agent_name_ok(section + 6)) {
            fail(c, ERR_CONFIG, "[%s]: agent group name must be 1-%d letters, digits, '_' or '-'",
                 section, CFG_NAME_MAX - 1);
            return NULL;
        }
        *auto_ok = 1;
        if (key_find(AGENT_SECTION, name))
            return AGENT_SECTION;
        return PROFILE_SECTION;
    }
    if (!strncmp(section, "type.", 5)) {
        int t = cfg_agent_type_from_name(section + 5);
        if (t < 0) {
            fail(c, ERR_CONFIG, "[%s]: unknown agent type (accepted: %s)", section, AGENT_TYPES);
            return NULL;
        }
        *base = &c->cfg->types[t];
        return PROFILE_SECTION;
    }
    if (!section_known(section) || !strcmp(section, PROFILE_SECTION)) {
        const char *best = NULL;
        size_t bestd = 2; /* at most two edits away */
        for (size_t i = 0; i < NKEYS; i++) {
            size_t d = name_distance(section, keys[i].section);
            if (strcmp(keys[i].section, PROFILE_SECTION) && strcmp(keys[i].section, AGENT_SECTION) &&
                d <= bestd && (!best || d < bestd)) {
                best = keys[i].section;
                bestd = d;
            }
        }
        fail(c, ERR_CONFIG,
             "unknown section [%s]%s%s%s (known: scenario, sim, market, network, mine, output, "
             "chain, weather, grid, population, attacks, security, type.TYPE, agent.NAME, sweep)",
             section, best ? ": did you mean [" : "", best ? best : "", best ? "]?" : "");
        return NULL;
    }
    return section;
}

/* Apply one key; shared by files, strings and --set. */
static int apply_key(struct load_ctx *c, const char *section, const char *name, const char *value)
{
    const struct key_def *k;
    void *base;
    char acc[200];
    const char *why, *schema;
    int auto_ok;

    if (!*section)
        return fail(c, ERR_CONFIG, "'%s' is outside any [section]", name);
    if (!strcmp(section, "sweep")) {
        if (!c->reader)
            return fail(c, ERR_CONFIG, "[sweep] keys can only be given in a scenario file");
        if (seen_add(c, section, name))
            return fail(c, ERR_CONFIG, "[sweep] %s is set twice in this file", name);
        if (strlen(name) >= sizeof c->cfg->sweep[0].key ||
            strlen(value) >= sizeof c->cfg->sweep[0].value)
            return fail(c, ERR_CONFIG, "[sweep] %s: key or value too long", name);
        if (sweep_store(c->cfg, name, value, c->origin, c->reader->line))
            return fail(c, ERR_NOMEM, "out of memory");
        return 1;
    }
    schema = section_target(c, section, name, &base, &auto_ok);
    if (!schema)
        return 0;
    k = key_find(schema, name);
    if (!k) {
        char known[600], hint[160];
        size_t len = 0;
        int agent = !strcmp(schema, PROFILE_SECTION) && !strncmp(section, "agent.", 6);
        known[0] = '\0';
        for (size_t i = 0; i < NKEYS; i++)
            if ((!strcmp(keys[i].section, schema) ||
                 (agent && !strcmp(keys[i].section, AGENT_SECTION))) &&
                len < sizeof known)
                len += (size_t)snprintf(known + len, sizeof known - len, "%s%s",
                                        len ? ", " : "", keys[i].name);
        key_suggest(schema, agent, name, hint, sizeof hint);
        return fail(c, ERR_CONFIG, "unknown key '%s' in [%s]%s (known: %s)", name, section,
                    hint[0] ? hint : "", known);
    }
    if (c->reader) { /* within one file a key may appear once; --set has no reader */
        int dup = seen_add(c, section, name);
        if (dup < 0)
            return fail(c, ERR_NOMEM, "out of memory");
        if (dup)
            return fail(c, ERR_CONFIG, "[%s] %s is set twice in this file", section, name);
    }
    if (k->type == KT_USE)
        return 1; /* handled by the loader's first pass */
    if (!strncmp(section, "agent.", 6)) {
        int oom;
        struct cfg_agent *g = agent_group(c->cfg, section + 6, &oom);
        if (!g)
            return oom ? fail(c, ERR_NOMEM, "out of memory")
                       : fail(c, ERR_CONFIG, "more than %d agent groups", CFG_MAX_AGENT_GROUPS);
        base = !strcmp(schema, PROFILE_SECTION) ? (void *)&g->p : (void *)g;
    }
    if (k->type == KT_PATH)
        why = path_store(c, k, value, (char *)base + k->offset);
    else
        why = value_parse(k, value, (char *)base + k->offset, auto_ok);
    if (why) {
        accepted_text(k, acc, sizeof acc);
        return fail(c, ERR_CONFIG, "[%s] %s = '%s': %s (accepted: %s%s%s)", section, name, value,
                    why, acc, *k->unit ? ", in " : "", k->unit);
    }
    return 1;
}

static int ini_cb(void *user, const char *section, const char *name, const char *value)
{
    struct load_ctx *c = user;
    char val[INI_MAX_LINE];
    if (c->rc)
        return 1; /* already failed; let inih finish quietly */
    if (c->reader && c->reader->too_long == c->reader->line)
        return fail(c, ERR_CONFIG, "line longer than %d characters", INI_MAX_LINE - 2);
    /* inih reads an indented line as more of the previous key's value and hands it over under
     * that key's name; say so, at this line, instead of "set twice". */
    if (c->reader && c->reader->indented && c->prev_line && c->prev_line < c->reader->line &&
        !strcmp(name, c->prev_name))
        return fail(c, ERR_CONFIG,
                    "an indented line continues the value of '%s' (line %d); multi-line values "
                    "are not accepted: remove the indentation",
                    name, c->prev_line);
    if (c->reader) {
        snprintf(c->prev_name, sizeof c->prev_name, "%s", name);
        c->prev_line = c->reader->line;
    }
    /* '#' after a space (or opening the value) starts a comment, as ';' does in inih. */
    {
        size_t n = 0;
        for (; value[n] && n + 1 < sizeof val; n++) {
            if (value[n] == '#' && (n == 0 || value[n - 1] == ' ' || value[n - 1] == '\t'))
                break;
            val[n] = value[n];
        }
        while (n && (val[n - 1] == ' ' || val[n - 1] == '\t'))
            n--;
        val[n] = '\0';
        value = val;
    }
    if (c->collect_use) {
        if (!strcmp(section, "scenario") && !strcmp(name, "use")) {
            if (c->use_line)
                return fail(c, ERR_CONFIG, "[scenario] use is set twice in this file");
            snprintf(c->use, sizeof c->use, "%s", value);
            c->use_line = c->reader->line;
        }
        return 1;
    }
    return apply_key(c, section, name, value);
}

static void ctx_fini(struct load_ctx *c)
{
    for (size_t i = 0; i < c->n_seen; i++)
        free(c->seen[i]);
    free(c->seen);
    c->seen = NULL;
    c->n_seen = c->cap_seen = 0;
}

/* Run inih over `text`; either pass.  Returns 0 or the first error code. */
static int parse_pass(struct load_ctx *c, const char *text, int collect_use)
{
    struct text_reader r = {text, 0, strlen(text), 0, 0, 0};
    int line;
    c->reader = &r;
    c->collect_use = collect_use;
    c->prev_line = 0;
    line = ini_parse_stream(text_read_line, &r, ini_cb, c);
    if (!c->rc && r.too_long) {
        r.line = r.too_long;
        fail(c, ERR_CONFIG, "line longer than %d characters", INI_MAX_LINE - 2);
    }
    if (!c->rc && line > 0) {
        r.line = line;
        fail(c, ERR_CONFIG, "syntax error: expected '[section]', 'key = value' or a comment");
    }
    if (!c->rc && line < 0)
        fail(c, ERR_NOMEM, "out of memory while parsing");
    c->reader = NULL;
    return c->rc;
}

static char *slurp(const char *path, struct err *e)
{
    FILE *f;
    char *buf = NULL;
    long n;
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        err_set(e, ERR_CONFIG, "%s: not a regular file", path);
        return NULL;
    }
    f = fopen(path, "rb");
    if (!f) {
        err_set(e, err_open_code(errno, ERR_CONFIG), "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        err_set(e, ERR_IO, "%s: cannot read: %s", path, strerror(errno));
        goto out;
    }
    if (n > 16L << 20) {
        err_set(e, ERR_CONFIG, "%s: larger than 16 MiB; not a scenario file", path);
        goto out;
    }
    buf = malloc((size_t)n + 1);
    if (!buf) {
        err_set(e, ERR_NOMEM, "%s: out of memory", path);
        goto out;
    }
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
        err_set(e, ERR_IO, "%s: read error", path);
        free(buf);
        buf = NULL;
        goto out;
    }
    buf[n] = '\0';
    if (memchr(buf, '\0', (size_t)n)) {
        err_set(e, ERR_CONFIG, "%s: contains NUL bytes; not a text file", path);
        free(buf);
        buf = NULL;
    }
out:
    fclose(f);
    return buf;
}

static int file_exists(const char *p) { return access(p, R_OK) == 0; }

/* Find a `use` entry: relative to the including file's directory, then the working directory,
 * then $SETM_HOME, then the source tree setm was built from. */
static int use_resolve(const char *from, const char *name, char *out, size_t n)
{
    const char *home = getenv("SETM_HOME");
    if (name[0] == '/') {
        snprintf(out, n, "%s", name);
        return file_exists(out);
    }
    if (from) {
        const char *slash = strrchr(from, '/');
        if (slash) {
            snprintf(out, n, "%.*s/%s", (int)(slash - from), from, name);
            if (file_exists(out))
                return 1;
        }
    }
    snprintf(out, n, "%s", name);
    if (file_exists(out))
        return 1;
    if (home && *home) {
        snprintf(out, n, "%s/%s", home, name);
        if (file_exists(out))
            return 1;
    }
#ifdef SETM_SOURCE_DIR
    snprintf(out, n, "%s/%s", SETM_SOURCE_DIR, name);
    if (file_exists(out))
        return 1;
#endif
    return 0;
}

struct use_stack {
    char paths[USE_MAX_DEPTH][PATH_MAX];
    int depth;
};

static int load_text(struct cfg *cfg, const char *text, const char *origin, const char *path,
                     struct use_stack *st, struct err *e);

static int load_path(struct cfg *cfg, const char *path, struct use_stack *st, struct err *e)
{
    char real[PATH_MAX];
    char *text;
    int rc;

    if (!realpath(path, real))
        return err_set(e, err_open_code(errno, ERR_CONFIG), "%s: cannot open: %s", path, strerror(errno));
    for (int i = 0; i < st->depth; i++)
        if (!strcmp(st->paths[i], real))
            return err_set(e, ERR_CONFIG, "%s: 'use' cycle: this file includes itself", path);
    if (st->depth >= USE_MAX_DEPTH)
        return err_set(e, ERR_CONFIG, "%s: 'use' nested deeper than %d files", path,
                       USE_MAX_DEPTH);
    text = slurp(path, e);
    if (!text)
        return e ? e->code : ERR_CONFIG;
    if (files_add(cfg, real)) {
        free(text);
        return err_set(e, ERR_NOMEM, "%s: out of memory", path);
    }
    snprintf(st->paths[st->depth++], PATH_MAX, "%s", real);
    rc = load_text(cfg, text, path, path, st, e);
    st->depth--;
    free(text);
    return rc;
}

static int load_text(struct cfg *cfg, const char *text, const char *origin, const char *path,
                     struct use_stack *st, struct err *e)
{
    struct load_ctx c;
    int rc;

    memset(&c, 0, sizeof c);
    c.cfg = cfg;
    c.origin = origin;
    c.path = path;
    c.e = e;
    rc = parse_pass(&c, text, 1);
    if (rc)
        goto out;
    if (c.use_line) {
        char list[sizeof c.use];
        char *save = NULL;
        snprintf(list, sizeof list, "%s", c.use);
        for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            char found[PATH_MAX];
            char *end;
            while (isspace((unsigned char)*tok))
                tok++;
            end = tok + strlen(tok);
            while (end > tok && isspace((unsigned char)end[-1]))
                *--end = '\0';
            if (!*tok)
                continue;
            if (!use_resolve(path, tok, found, sizeof found)) {
                rc = err_set(e, ERR_CONFIG,
                             "%s:%d: [scenario] use: cannot find '%s' (looked beside this file, "
                             "in the working directory and in the setm tree)",
                             origin, c.use_line, tok);
                goto out;
            }
            rc = load_path(cfg, found, st, e);
            if (rc) {
                err_wrap(e, rc, "%s:%d: in file used here", origin, c.use_line);
                goto out;
            }
        }
    }
    rc = parse_pass(&c, text, 0);
out:
    ctx_fini(&c);
    return rc;
}

int cfg_load_file(struct cfg *cfg, const char *path, struct err *e)
{
    struct use_stack *st = calloc(1, sizeof *st);
    int rc;
    if (!st)
        return err_set(e, ERR_NOMEM, "out of memory");
    rc = load_path(cfg, path, st, e);
    free(st);
    return rc;
}

/* Apply INI text without `use` processing (the compiled presets). */
static int load_text_plain(struct cfg *cfg, const char *text, const char *origin, struct err *e)
{
    struct load_ctx c;
    int rc;
    memset(&c, 0, sizeof c);
    c.cfg = cfg;
    c.origin = origin;
    c.e = e;
    rc = parse_pass(&c, text, 0);
    ctx_fini(&c);
    return rc;
}

int cfg_load_string(struct cfg *cfg, const char *text, const char *origin, struct err *e)
{
    struct use_stack *st = calloc(1, sizeof *st);
    int rc;
    if (!st)
        return err_set(e, ERR_NOMEM, "out of memory");
    rc = load_text(cfg, text, origin, NULL, st, e);
    free(st);
    return rc;
}

int cfg_set(struct cfg *cfg, const char *assignment, struct err *e)
{
    struct load_ctx c;
    char section[CFG_NAME_MAX + 8], name[CFG_NAME_MAX];
    const char *eq = strchr(assignment, '=');
    const char *dot;
    char origin[300];

    memset(&c, 0, sizeof c);
    snprintf(origin, sizeof origin, "--set %s", assignment);
    c.cfg = cfg;
    c.origin = origin;
    c.e = e;
    if (!eq)
        return err_set(e, ERR_CONFIG, "%s: expected section.key=value", origin);
    dot = NULL;
    for (const char *p = assignment; p < eq; p++)
        if (*p == '.')
            dot = p; /* the last dot before '=': agent.NAME.key splits as [agent.NAME] key */
    if (!dot || dot == assignment || dot + 1 == eq ||
        (size_t)(dot - assignment) >= sizeof section || (size_t)(eq - dot - 1) >= sizeof name)
        return err_set(e, ERR_CONFIG, "%s: expected section.key=value", origin);
    snprintf(section, sizeof section, "%.*s", (int)(dot - assignment), assignment);
    snprintf(name, sizeof name, "%.*s", (int)(eq - dot - 1), dot + 1);
    if (!strcmp(section, "scenario") && !strcmp(name, "use"))
        return err_set(e, ERR_CONFIG, "%s: 'use' can only be given in a scenario file", origin);
    {
        /* Surrounding spaces go, as inih strips them from file values. */
        char value[CFG_STR_MAX + 2];
        const char *v = eq + 1;
        size_t len;
        while (*v == ' ' || *v == '\t')
            v++;
        len = strlen(v);
        while (len && (v[len - 1] == ' ' || v[len - 1] == '\t'))
            len--;
        if (len >= sizeof value)
            return err_set(e, ERR_CONFIG, "%s: value longer than %d characters", origin,
                           CFG_STR_MAX);
        memcpy(value, v, len);
        value[len] = '\0';
        apply_key(&c, section, name, value);
    }
    return c.rc;
}

int cfg_chain_shares(const struct cfg *cfg, double *out, struct err *e)
{
    const char *p = cfg->chain.hash_shares;
    int64_t n = cfg->chain.nodes, i = 0;
    double sum = 0, max = 0;
    while (*p == ' ' || *p == '\t')
        p++;
    if (!*p) {
        for (i = 0; i < n; i++)
            out[i] = 1.0 / (double)n;
        return 0;
    }
    for (;;) {
        char *end;
        double v;
        if (i == n)
            return err_set(e, ERR_CONFIG, "[chain] hash_shares = '%s': more than nodes = %lld values",
                           cfg->chain.hash_shares, (long long)n);
        v = strtod(p, &end);
        if (end == p || !isfinite(v) || v < 0)
            return err_set(e, ERR_CONFIG,
                           "[chain] hash_shares = '%s': value %lld is not a number >= 0",
                           cfg->chain.hash_shares, (long long)i + 1);
        out[i++] = v;
        if (v > max)
            max = v;
        p = end;
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        if (*p != ',')
            return err_set(e, ERR_CONFIG, "[chain] hash_shares = '%s': expected ',' after value %lld",
                           cfg->chain.hash_shares, (long long)i);
        p++;
    }
    if (i != n)
        return err_set(e, ERR_CONFIG, "[chain] hash_shares = '%s': %lld values for nodes = %lld",
                       cfg->chain.hash_shares, (long long)i, (long long)n);
    if (!(max > 0))
        return err_set(e, ERR_CONFIG, "[chain] hash_shares = '%s': every share is 0",
                       cfg->chain.hash_shares);
    /* Scale by the largest first: shares near DBL_MAX would overflow a plain sum to inf (and
     * every share to 0); after it each is in [0, 1] and the sum in [1, nodes]. */
    for (i = 0; i < n; i++) {
        out[i] /= max;
        sum += out[i];
    }
    for (i = 0; i < n; i++)
        out[i] /= sum;
    return 0;
}

/* Cross-key checks of [chain] and the chain-level [attacks] keys. */
static int chain_validate(const struct cfg *cfg, struct err *e)
{
    double shares[64];
    int rc = cfg_chain_shares(cfg, shares, e);
    if (rc)
        return rc;
    if (cfg->attacks.selfish_node >= cfg->chain.nodes)
        return err_set(e, ERR_CONFIG, "[attacks] selfish_node = %lld but [chain] nodes = %lld",
                       (long long)cfg->attacks.selfish_node, (long long)cfg->chain.nodes);
    if (cfg->chain.confirmations > cfg->chain.finality_depth)
        return err_set(e, ERR_CONFIG,
                       "[chain] confirmations = %lld exceeds finality_depth = %lld",
                       (long long)cfg->chain.confirmations, (long long)cfg->chain.finality_depth);
    return 0;
}

int cfg_validate(const struct cfg *cfg, struct err *e)
{
    int64_t total = cfg->population.count;
    double shares = 0;
    if (1440 % cfg->market.slot_minutes != 0)
        return err_set(e, ERR_CONFIG,
                       "[market] slot_minutes = %lld: a day (1440 minutes) must be a whole "
                       "number of slots",
                       (long long)cfg->market.slot_minutes);
    for (int t = 0; t < CFG_AGENT_NTYPES; t++) {
        const struct cfg_profile *p = &cfg->types[t];
        if (p->min_bid > p->max_bid)
            return err_set(e, ERR_CONFIG, "[type.%s] min_bid = %g is above max_bid = %g",
                           cfg_agent_type_name(t), p->min_bid, p->max_bid);
        shares += cfg->population.share[t];
    }
    if (cfg->population.count > 0 && !(shares > 0))
        return err_set(e, ERR_CONFIG,
                       "[population] count = %lld but every type's share is 0: give at least one "
                       "type a share",
                       (long long)cfg->population.count);
    for (size_t i = 0; i < cfg->n_agents; i++) {
        const struct cfg_agent *g = &cfg->agents[i];
        struct cfg_profile p;
        cfg_agent_resolve(cfg, g, &p);
        if (p.min_bid > p.max_bid)
            return err_set(e, ERR_CONFIG,
                           "[agent.%s] min_bid = %g is above max_bid = %g (after the type preset)",
                           g->name, p.min_bid, p.max_bid);
        total += g->count;
    }
    if (total > CFG_MAX_AGENTS)
        return err_set(e, ERR_CONFIG, "%lld agents in all groups; at most %d are supported",
                       (long long)total, CFG_MAX_AGENTS);
    return chain_validate(cfg, e);
}

/* ---- writing ----------------------------------------------------------------------------- */

static void write_keys(const char *section, const void *base, FILE *out)
{
    char buf[CFG_STR_MAX + 32];
    for (size_t i = 0; i < NKEYS; i++) {
        const struct key_def *k = &keys[i];
        if (strcmp(k->section, section) != 0 || k->type == KT_USE)
            continue;
        value_format(k, (const char *)base + k->offset, buf, sizeof buf);
        fprintf(out, "%s = %s\n", k->name, buf);
    }
}

int cfg_write(const struct cfg *cfg, FILE *out)
{
    const char *section = NULL;

    for (size_t i = 0; i < NKEYS; i++) {
        const char *sec = keys[i].section;
        if (!strcmp(sec, AGENT_SECTION) || !strcmp(sec, PROFILE_SECTION))
            continue;
        if (!section || strcmp(section, sec) != 0) {
            fprintf(out, "%s[%s]\n", section ? "\n" : "", sec);
            write_keys(sec, cfg, out);
            section = sec;
        }
    }
    for (int t = 0; t < CFG_AGENT_NTYPES; t++) {
        fprintf(out, "\n[type.%s]\n", cfg_agent_type_name(t));
        write_keys(PROFILE_SECTION, &cfg->types[t], out);
    }
    for (size_t g = 0; g < cfg->n_agents; g++) {
        fprintf(out, "\n[agent.%s]\n", cfg->agents[g].name);
        write_keys(AGENT_SECTION, &cfg->agents[g], out);
        write_keys(PROFILE_SECTION, &cfg->agents[g].p, out);
    }
    return ferror(out) ? ERR_IO : 0;
}

char *cfg_to_string(const struct cfg *cfg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    int rc;
    if (!f)
        return NULL;
    rc = cfg_write(cfg, f);
    if (fclose(f) != 0 || rc != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* ---- introspection ----------------------------------------------------------------------- */

size_t cfg_key_count(void) { return NKEYS; }

void cfg_key_get(size_t i, struct cfg_key_info *out)
{
    static const char *const type_names[] = {"integer", "number", "boolean", "string",
                                              "choice",  "list",   "path"};
    const struct key_def *k = &keys[i];
    out->section = k->section;
    out->name = k->name;
    out->type = type_names[k->type];
    out->def = k->def;
    out->unit = k->unit;
    out->help = k->help;
    accepted_text(k, out->accepted, sizeof out->accepted);
}

int cfg_value_is_default(const char *section, const char *name, const char *value,
                         struct err *e)
{
    const struct key_def *k = key_find(section, name);
    union {
        int64_t i;
        double d;
        int b;
        char s[CFG_STR_MAX];
    } a, b;
    const char *why;

    if (!k)
        return err_set(e, ERR_CONFIG, "unknown key [%s] %s", section, name);
    if (k->type == KT_USE)
        return strcmp(value, k->def) == 0;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    why = value_parse(k, value, &a, 1);
    if (why)
        return err_set(e, ERR_CONFIG, "[%s] %s = '%s': %s", section, name, value, why);
    why = value_parse(k, k->def, &b, 1);
    if (why)
        return err_set(e, ERR_CONFIG, "[%s] %s: compiled default '%s' is invalid: %s", section,
                       name, k->def, why);
    return memcmp(&a, &b, sizeof a) == 0;
}
