/* test_config — defaults, the defaults.ini contract, composition, overrides and every error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <math.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "cli_harness.h"

#include "core/config.h"
#include "security/registry.h"

struct fx {
    char dir[64];
    struct cfg cfg;
    struct err e;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (!f || tu_mkdtemp(f->dir, "config") != 0)
        return -1;
    cfg_init(&f->cfg);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    cfg_fini(&f->cfg);
    if (tu_rmrf(f->dir) != 0)
        return -1;
    free(f);
    return 0;
}

/* Write `text` to dir/name and return the path in a static-per-call buffer owned by the fixture. */
static const char *put(struct fx *f, const char *name, const char *text)
{
    static char path[256];
    FILE *fp;
    snprintf(path, sizeof path, "%s/%s", f->dir, name);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    return path;
}

/* Load `text` as a file and expect failure `code` with every fragment in the message. */
static void expect_error(struct fx *f, const char *text, int code, const char *frag1,
                         const char *frag2)
{
    const char *p = put(f, "bad.ini", text);
    int rc = cfg_load_file(&f->cfg, p, &f->e);
    if (rc != code)
        fail_msg("expected %d, got %d (%s) for:\n%s", code, rc, f->e.msg, text);
    if (frag1 && !strstr(f->e.msg, frag1))
        fail_msg("message '%s' lacks '%s'", f->e.msg, frag1);
    if (frag2 && !strstr(f->e.msg, frag2))
        fail_msg("message '%s' lacks '%s'", f->e.msg, frag2);
}

static void test_config_compiled_defaults(void **state)
{
    struct fx *f = *state;
    assert_int_equal(f->cfg.market.slot_minutes, 15);
    assert_int_equal(f->cfg.market.rounds_per_slot, 5);
    assert_int_equal(f->cfg.scenario.seed, 1);
    assert_true(f->cfg.sim.days == 1.0);
    assert_int_equal(f->cfg.mine.backend, CFG_BACKEND_AUTO);
    assert_string_equal(f->cfg.scenario.name, "setm");
    assert_int_equal(f->cfg.n_agents, 0);
    assert_int_equal(cfg_validate(&f->cfg, &f->e), 0);
}

/*
 * configs/defaults.ini documents every key: each key line (commented out with ';' for the
 * [agent.NAME] template) holds the compiled default and is preceded by its help line and a
 * 'unit: U | accepted: A' line matching the schema.  Any key missing, extra, or out of step fails.
 */
static void test_config_defaults_ini_matches_schema(void **state)
{
    struct fx *f = *state;
    char path[512], line[512], prev1[512] = "", prev2[512] = "", section[128] = "";
    size_t n = cfg_key_count();
    int *seen = calloc(n, sizeof *seen);
    FILE *fp;
    int lineno = 0;

    snprintf(path, sizeof path, "%s/configs/defaults.ini", SETM_SOURCE_DIR);
    fp = fopen(path, "r");
    assert_non_null(fp);
    while (fgets(line, sizeof line, fp)) {
        char *s = line, *eq, key[128], value[256];
        size_t len = strlen(line);
        int template_line = 0;
        lineno++;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (!strcmp(s, ";[agent.NAME]")) {
            snprintf(section, sizeof section, "agent.*");
            continue;
        }
        if (s[0] == '[') {
            snprintf(section, sizeof section, "%.*s", (int)(strlen(s) - 2), s + 1);
            continue;
        }
        if (s[0] == ';' && !strcmp(section, "agent.*") && s[1] != ' ' && strchr(s, '=')) {
            template_line = 1;
            s++;
        }
        if (s[0] == ';' || s[0] == '\0') {
            memcpy(prev2, prev1, sizeof prev2);
            snprintf(prev1, sizeof prev1, "%s", s);
            continue;
        }
        eq = strchr(s, '=');
        if (!eq)
            fail_msg("defaults.ini:%d: not a key line: %s", lineno, s);
        snprintf(key, sizeof key, "%.*s", (int)(eq - s), s);
        while (strlen(key) && key[strlen(key) - 1] == ' ')
            key[strlen(key) - 1] = '\0';
        snprintf(value, sizeof value, "%s", eq + 1);
        {
            char *v = value;
            while (*v == ' ')
                v++;
            memmove(value, v, strlen(v) + 1);
        }
        (void)template_line;
        {
            size_t i;
            struct cfg_key_info k;
            char want[400];
            for (i = 0; i < n; i++) {
                cfg_key_get(i, &k);
                if ((!strcmp(k.section, section) ||
                     (!strcmp(section, "agent.*") && !strcmp(k.section, "profile"))) &&
                    !strcmp(k.name, key))
                    break;
            }
            if (i == n)
                fail_msg("defaults.ini:%d: [%s] %s is not a key of setm", lineno, section, key);
            if (seen[i]++)
                fail_msg("defaults.ini:%d: [%s] %s appears twice", lineno, section, key);
            if (cfg_value_is_default(k.section, key, value, &f->e) != 1)
                fail_msg("defaults.ini:%d: [%s] %s = '%s' but the compiled default is '%s'",
                         lineno, section, key, value, k.def);
            snprintf(want, sizeof want, "; unit: %s | accepted: %s", *k.unit ? k.unit : "-",
                     k.accepted);
            if (strcmp(prev1, want) != 0)
                fail_msg("defaults.ini:%d: [%s] %s: expected the line above to be\n%s\nnot\n%s",
                         lineno, section, key, want, prev1);
            if (strncmp(prev2, "; ", 2) != 0 || strcmp(prev2 + 2, k.help) != 0)
                fail_msg("defaults.ini:%d: [%s] %s: expected help line '; %s'", lineno, section,
                         key, k.help);
        }
        prev1[0] = prev2[0] = '\0';
    }
    fclose(fp);
    for (size_t i = 0; i < n; i++) {
        struct cfg_key_info k;
        cfg_key_get(i, &k);
        if (!seen[i])
            fail_msg("defaults.ini lacks [%s] %s", k.section, k.name);
    }
    free(seen);
}

/* Loading defaults.ini itself changes nothing. */
static void test_config_loading_defaults_ini_is_identity(void **state)
{
    struct fx *f = *state;
    char path[512];
    struct cfg fresh;
    char *a, *b;
    snprintf(path, sizeof path, "%s/configs/defaults.ini", SETM_SOURCE_DIR);
    assert_int_equal(cfg_load_file(&f->cfg, path, &f->e), 0);
    cfg_init(&fresh);
    a = cfg_to_string(&f->cfg);
    b = cfg_to_string(&fresh);
    assert_string_equal(a, b);
    free(a);
    free(b);
    cfg_fini(&fresh);
}

static void test_config_reads_values_and_agent_groups(void **state)
{
    struct fx *f = *state;
    const char *p = put(f, "s.ini",
                        "; comment\n# also a comment\n[scenario]\nname = case\nseed = 42\n"
                        "[sim]\ndays = 2.5\n[market]\nslot_minutes = 30 ; inline comment\n"
                        "[agent.house]\ntype = home_solar\ncount = 3\nmin_bid = 34\nmax_bid = 46\n"
                        "[agent.plant]\ntype = solar_system\nmin_bid = 40\nmax_bid = 52\n"
                        "forecast_days = 342\n");
    assert_int_equal(cfg_load_file(&f->cfg, p, &f->e), 0);
    assert_string_equal(f->cfg.scenario.name, "case");
    assert_int_equal(f->cfg.scenario.seed, 42);
    assert_true(f->cfg.sim.days == 2.5);
    assert_int_equal(f->cfg.market.slot_minutes, 30);
    assert_int_equal(f->cfg.n_agents, 2);
    assert_string_equal(f->cfg.agents[0].name, "house");
    assert_int_equal(f->cfg.agents[0].count, 3);
    assert_string_equal(f->cfg.agents[1].name, "plant");
    assert_int_equal(f->cfg.agents[1].type, CFG_AGENT_SOLAR_SYSTEM);
    assert_int_equal(f->cfg.agents[1].p.forecast_days, 342);
    assert_int_equal(f->cfg.agents[1].count, 1); /* default */
    assert_int_equal(cfg_agent_total(&f->cfg), 4);
}

static void test_config_use_composes_in_order(void **state)
{
    struct fx *f = *state;
    char sub[128];
    snprintf(sub, sizeof sub, "%s/presets", f->dir);
    assert_int_equal(mkdir(sub, 0777), 0);
    put(f, "presets/a.ini", "[market]\nslot_minutes = 60\nrounds_per_slot = 3\n"
                            "[agent.house]\ncount = 10\nmin_bid = 30\n");
    put(f, "presets/b.ini", "[market]\nrounds_per_slot = 7\n");
    /* nested: c uses a relative to its own directory */
    put(f, "presets/c.ini", "[scenario]\nuse = a.ini\n[sim]\ndays = 3\n");
    {
        const char *p = put(f, "s.ini",
                            "[scenario]\nuse = presets/c.ini, presets/b.ini\n"
                            "[agent.house]\ncount = 12\n");
        assert_int_equal(cfg_load_file(&f->cfg, p, &f->e), 0);
    }
    assert_int_equal(f->cfg.market.slot_minutes, 60); /* from a */
    assert_int_equal(f->cfg.market.rounds_per_slot, 7); /* b after a */
    assert_true(f->cfg.sim.days == 3.0);               /* from c */
    assert_int_equal(f->cfg.n_agents, 1);
    assert_int_equal(f->cfg.agents[0].count, 12);      /* scenario overrides a */
    assert_true(f->cfg.agents[0].p.min_bid == 30.0);   /* a's value kept */
}

static void test_config_set_overrides_last(void **state)
{
    struct fx *f = *state;
    const char *p = put(f, "s.ini", "[market]\nrounds_per_slot = 3\n[agent.house]\ncount = 2\n");
    assert_int_equal(cfg_load_file(&f->cfg, p, &f->e), 0);
    assert_int_equal(cfg_set(&f->cfg, "market.rounds_per_slot=9", &f->e), 0);
    assert_int_equal(cfg_set(&f->cfg, "agent.house.count=50", &f->e), 0);
    assert_int_equal(cfg_set(&f->cfg, "agent.ev.type=smart_vehicle", &f->e), 0);
    assert_int_equal(cfg_set(&f->cfg, "mine.backend=cpu", &f->e), 0);
    assert_int_equal(f->cfg.market.rounds_per_slot, 9);
    assert_int_equal(f->cfg.agents[0].count, 50);
    assert_int_equal(f->cfg.n_agents, 2);
    assert_int_equal(f->cfg.agents[1].type, CFG_AGENT_SMART_VEHICLE);
    assert_int_equal(f->cfg.mine.backend, CFG_BACKEND_CPU);
}

static void test_config_set_errors(void **state)
{
    struct fx *f = *state;
    assert_int_equal(cfg_set(&f->cfg, "market.rounds_per_slot", &f->e), ERR_CONFIG);
    assert_non_null(strstr(f->e.msg, "expected section.key=value"));
    assert_int_equal(cfg_set(&f->cfg, "rounds=3", &f->e), ERR_CONFIG);
    assert_int_equal(cfg_set(&f->cfg, ".x=3", &f->e), ERR_CONFIG);
    assert_int_equal(cfg_set(&f->cfg, "market.=3", &f->e), ERR_CONFIG);
    assert_int_equal(cfg_set(&f->cfg, "market.nope=3", &f->e), ERR_CONFIG);
    assert_non_null(strstr(f->e.msg, "--set market.nope=3"));
    assert_non_null(strstr(f->e.msg, "unknown key 'nope'"));
    assert_int_equal(cfg_set(&f->cfg, "market.slot_minutes=0", &f->e), ERR_CONFIG);
    assert_non_null(strstr(f->e.msg, "integer in [1, 1440]"));
    assert_int_equal(cfg_set(&f->cfg, "scenario.use=a.ini", &f->e), ERR_CONFIG);
    assert_int_equal(f->cfg.market.slot_minutes, 15); /* untouched by failures */
}

/* chain.tx_window is bounded: a window of no time or above a year is refused, naming the key. */
static void test_config_tx_window_bounded(void **state)
{
    struct fx *f = *state;
    assert_int_equal(f->cfg.chain.tx_window, 86400);
    assert_int_equal(cfg_set(&f->cfg, "chain.tx_window=0", &f->e), ERR_CONFIG);
    assert_non_null(strstr(f->e.msg, "tx_window"));
    assert_int_equal(cfg_set(&f->cfg, "chain.tx_window=31536001", &f->e), ERR_CONFIG);
    assert_non_null(strstr(f->e.msg, "tx_window"));
    assert_int_equal(cfg_set(&f->cfg, "chain.tx_window=3600", &f->e), 0);
    assert_true(f->cfg.chain.tx_window == 3600);
}

static void test_config_error_unknown_section(void **state)
{
    expect_error(*state, "[market]\nslot_minutes = 15\n\n[markte]\nx = 1\n", ERR_CONFIG,
                 "bad.ini:5:", "unknown section [markte]");
}

/* A section two edits from a known one (a swap: "markte") names it; a far one gets no guess. */
static void test_config_error_unknown_section_names_closest(void **state)
{
    struct fx *f = *state;
    expect_error(f, "[markte]\nx = 1\n", ERR_CONFIG, "bad.ini:2:",
                 "unknown section [markte]: did you mean [market]?");
    assert_int_equal(cfg_set(&f->cfg, "qqqqqq.x=1", &f->e), ERR_CONFIG);
    assert_null(strstr(f->e.msg, "did you mean"));
}

static void test_config_error_unknown_key_lists_known(void **state)
{
    expect_error(*state, "[market]\nslot_minute = 15\n", ERR_CONFIG, "bad.ini:2:",
                 "(known: slot_minutes, rounds_per_slot, mechanism");
}

/* The key at the smallest edit distance is named: one edit (slot_minute), two (round_per_slots). */
static void test_config_error_unknown_key_names_closest(void **state)
{
    expect_error(*state, "[market]\nslot_minute = 15\n", ERR_CONFIG, "bad.ini:2:",
                 "unknown key 'slot_minute' in [market]: did you mean 'slot_minutes'?");
    expect_error(*state, "[market]\nround_per_slots = 3\n", ERR_CONFIG, "bad.ini:2:",
                 "did you mean 'rounds_per_slot'?");
}

/* A key of another section given under the wrong one names the section that has it. */
static void test_config_error_unknown_key_names_its_section(void **state)
{
    expect_error(*state, "[market]\ndifficulty_bits = 8\n", ERR_CONFIG, "bad.ini:2:",
                 "unknown key 'difficulty_bits' in [market]: did you mean [chain] difficulty_bits?");
}

/* Nothing close: no guess, only the list of known keys. */
static void test_config_error_unknown_key_far_from_all_no_guess(void **state)
{
    struct fx *f = *state;
    assert_int_equal(cfg_set(&f->cfg, "market.zzzzzzzz=3", &f->e), ERR_CONFIG);
    assert_null(strstr(f->e.msg, "did you mean"));
    assert_non_null(strstr(f->e.msg, "unknown key 'zzzzzzzz' in [market] (known:"));
}

static void test_config_error_not_an_integer(void **state)
{
    expect_error(*state, "[market]\nrounds_per_slot = 2.5\n", ERR_CONFIG,
                 "bad.ini:2: [market] rounds_per_slot = '2.5': not an integer",
                 "accepted: integer in [1, 1000]");
}

static void test_config_error_out_of_range_names_unit(void **state)
{
    expect_error(*state, "[sim]\ndays = 0\n", ERR_CONFIG, "[sim] days = '0': out of range",
                 "accepted: number in (0, 3650], in days");
}

static void test_config_error_not_a_number(void **state)
{
    expect_error(*state, "[agent.x]\nmin_bid = cheap\n", ERR_CONFIG, "bad.ini:2:",
                 "not a number");
    expect_error(*state, "[agent.x]\nmin_bid = nan\n", ERR_CONFIG, "out of range", NULL);
    expect_error(*state, "[agent.x]\nmax_bid =\n", ERR_CONFIG, "empty value", NULL);
}

static void test_config_error_bad_choice(void **state)
{
    expect_error(*state, "[mine]\nbackend = gpu\n", ERR_CONFIG, "'gpu': not an accepted choice",
                 "one of auto, opencl, cpu");
    expect_error(*state, "[agent.a]\ntype = nuclear\n", ERR_CONFIG, "[agent.a] type", "home_solar");
}

/* security.mutual_key: the paper's bestowed keys by default, kx on request, anything else an
 * error naming the key and the choices; a misspelt section is pointed at [security]. */
static void test_config_security_mutual_key(void **state)
{
    struct fx *f = *state;
    assert_int_equal(f->cfg.security.mutual_key, ID_MUTUAL_BESTOWED);
    assert_int_equal(cfg_load_file(&f->cfg, put(f, "kx.ini", "[security]\nmutual_key = kx\n"),
                                   &f->e),
                     0);
    assert_int_equal(f->cfg.security.mutual_key, ID_MUTUAL_KX);
    assert_int_equal(cfg_set(&f->cfg, "security.mutual_key=bestowed", &f->e), 0);
    assert_int_equal(f->cfg.security.mutual_key, ID_MUTUAL_BESTOWED);
    expect_error(f, "[security]\nmutual_key = x25519\n", ERR_CONFIG,
                 "[security] mutual_key = 'x25519'", "one of bestowed, kx");
    expect_error(f, "[securty]\nmutual_key = kx\n", ERR_CONFIG, "did you mean [security]",
                 NULL);
}

static void test_config_error_integer_overflow(void **state)
{
    expect_error(*state, "[scenario]\nseed = 99999999999999999999999\n", ERR_CONFIG,
                 "out of range", NULL);
    expect_error(*state, "[scenario]\nseed = -1\n", ERR_CONFIG, "out of range", NULL);
}

static void test_config_error_string_too_long(void **state)
{
    char text[200];
    snprintf(text, sizeof text, "[scenario]\nname = %080d\n", 0);
    expect_error(*state, text, ERR_CONFIG, "too long", "at most 63 characters");
}

/* Text that could not be written back and read again unchanged is refused. */
static void test_config_error_text_that_cannot_round_trip(void **state)
{
    struct fx *f = *state;
    expect_error(f, "[scenario]\ndescription =;  starts like a comment\n", ERR_CONFIG,
                 "bad.ini:2:", "begins a comment");
    expect_error(f, "[scenario]\nname = caf\xe9\n", ERR_CONFIG, "not valid UTF-8", NULL);
    expect_error(f, "[scenario]\nname = a\x01b\n", ERR_CONFIG, "control character", NULL);
    assert_int_equal(cfg_set(&f->cfg, "scenario.description=a ;b", &f->e), ERR_CONFIG);
    assert_int_equal(cfg_set(&f->cfg, "scenario.description=ok;fine, caf\xc3\xa9", &f->e), 0);
    assert_int_equal(cfg_set(&f->cfg, "scenario.name=  padded  ", &f->e), 0);
    assert_string_equal(f->cfg.scenario.name, "padded");
}

static void test_config_error_duplicate_key(void **state)
{
    expect_error(*state, "[market]\nslot_minutes = 15\nslot_minutes = 30\n", ERR_CONFIG,
                 "bad.ini:3:", "set twice");
}

static void test_config_error_key_outside_section(void **state)
{
    expect_error(*state, "seed = 3\n", ERR_CONFIG, "bad.ini:1:", "outside any [section]");
}

static void test_config_error_syntax(void **state)
{
    expect_error(*state, "[market]\nslot_minutes 15\n", ERR_CONFIG, "bad.ini:2:",
                 "syntax error");
    expect_error(*state, "[market\nslot_minutes = 15\n", ERR_CONFIG, "bad.ini:1:",
                 "syntax error");
}

static void test_config_error_line_too_long(void **state)
{
    char text[600];
    snprintf(text, sizeof text, "[scenario]\ndescription = %0400d\n", 0);
    expect_error(*state, text, ERR_CONFIG, "bad.ini:2:", "line longer than");
}

static void test_config_error_bad_agent_name(void **state)
{
    expect_error(*state, "[agent.my house]\ncount = 1\n", ERR_CONFIG, "[agent.my house]",
                 "agent group name");
    expect_error(*state, "[agent.]\ncount = 1\n", ERR_CONFIG, "agent group name", NULL);
}

static void test_config_error_missing_file(void **state)
{
    struct fx *f = *state;
    assert_int_equal(cfg_load_file(&f->cfg, "/nonexistent/s.ini", &f->e), ERR_NOTFOUND);
    assert_non_null(strstr(f->e.msg, "/nonexistent/s.ini"));
}

static void test_config_error_binary_file(void **state)
{
    struct fx *f = *state;
    const char *p = put(f, "bin.ini", "");
    FILE *fp = fopen(p, "wb");
    fwrite("[a]\0\x01\x02", 1, 6, fp);
    fclose(fp);
    assert_int_equal(cfg_load_file(&f->cfg, p, &f->e), ERR_CONFIG);
    assert_non_null(strstr(f->e.msg, "NUL"));
}

static void test_config_error_not_a_regular_file(void **state)
{
    struct fx *f = *state;
    assert_int_equal(cfg_load_file(&f->cfg, f->dir, &f->e), ERR_CONFIG);
    assert_non_null(strstr(f->e.msg, "not a regular file"));
    expect_error(f, "[scenario]\nuse = /dev/null\n", ERR_CONFIG, "/dev/null", "regular file");
}

static void test_config_error_use_missing(void **state)
{
    expect_error(*state, "[scenario]\nname = x\nuse = nothere.ini\n", ERR_CONFIG, "bad.ini:3:",
                 "cannot find 'nothere.ini'");
}

static void test_config_error_use_cycle(void **state)
{
    struct fx *f = *state;
    const char *p;
    put(f, "a.ini", "[scenario]\nuse = b.ini\n");
    put(f, "b.ini", "[scenario]\nuse = a.ini\n");
    p = put(f, "top.ini", "[scenario]\nuse = a.ini\n");
    assert_int_equal(cfg_load_file(&f->cfg, p, &f->e), ERR_CONFIG);
    assert_non_null(strstr(f->e.msg, "cycle"));
}

static void test_config_error_in_used_file_names_both(void **state)
{
    struct fx *f = *state;
    const char *p;
    put(f, "inner.ini", "[market]\n\nrounds_per_slot = 0\n");
    p = put(f, "outer.ini", "[scenario]\nuse = inner.ini\n");
    assert_int_equal(cfg_load_file(&f->cfg, p, &f->e), ERR_CONFIG);
    assert_non_null(strstr(f->e.msg, "outer.ini:2"));
    assert_non_null(strstr(f->e.msg, "inner.ini:3: [market] rounds_per_slot = '0'"));
}

static void test_config_validate_cross_key(void **state)
{
    struct fx *f = *state;
    assert_int_equal(cfg_set(&f->cfg, "agent.a.min_bid=50", &f->e), 0);
    assert_int_equal(cfg_set(&f->cfg, "agent.a.max_bid=40", &f->e), 0);
    assert_int_equal(cfg_validate(&f->cfg, &f->e), ERR_CONFIG);
    assert_non_null(strstr(f->e.msg, "[agent.a] min_bid = 50 is above max_bid = 40"));
    assert_int_equal(cfg_set(&f->cfg, "agent.a.max_bid=60", &f->e), 0);
    assert_int_equal(cfg_validate(&f->cfg, &f->e), 0);
    assert_int_equal(cfg_set(&f->cfg, "market.slot_minutes=7", &f->e), 0);
    assert_int_equal(cfg_validate(&f->cfg, &f->e), ERR_CONFIG);
    assert_non_null(strstr(f->e.msg, "whole number of slots"));
    assert_int_equal(cfg_set(&f->cfg, "market.slot_minutes=15", &f->e), 0);
    assert_int_equal(cfg_set(&f->cfg, "agent.a.count=700000", &f->e), 0);
    assert_int_equal(cfg_set(&f->cfg, "agent.b.count=700000", &f->e), 0);
    assert_int_equal(cfg_validate(&f->cfg, &f->e), ERR_CONFIG);
    assert_non_null(strstr(f->e.msg, "at most"));
}

/* The resolved text reproduces the configuration exactly (it goes into every output file). */
static void test_config_write_round_trips(void **state)
{
    struct fx *f = *state;
    struct cfg again;
    char *a, *b;
    assert_int_equal(cfg_set(&f->cfg, "sim.days=0.1", &f->e), 0);
    assert_int_equal(cfg_set(&f->cfg, "scenario.description=a test; with semicolon", &f->e), 0);
    assert_int_equal(cfg_set(&f->cfg, "agent.z.max_bid=47.123456789012345", &f->e), 0);
    assert_int_equal(cfg_set(&f->cfg, "agent.a.type=smart_factory", &f->e), 0);
    assert_int_equal(cfg_set(&f->cfg, "agent.a.load_csv=/data/a.csv", &f->e), 0);
    assert_int_equal(cfg_set(&f->cfg, "type.wearable.pv_kwp=0.01", &f->e), 0);
    assert_int_equal(cfg_set(&f->cfg, "population.count=5", &f->e), 0);
    a = cfg_to_string(&f->cfg);
    assert_non_null(strstr(a, "min_bid = auto"));
    assert_non_null(a);
    cfg_init(&again);
    assert_int_equal(cfg_load_string(&again, a, "resolved", &f->e), 0);
    b = cfg_to_string(&again);
    assert_string_equal(a, b);
    assert_true(again.sim.days == 0.1);
    assert_true(again.agents[0].p.max_bid == 47.123456789012345);
    assert_string_equal(again.agents[1].name, "a");
    free(a);
    free(b);
    cfg_fini(&again);
}


/* configs/agent_types.ini states the compiled presets: every profile key once per type, and
 * loading it changes nothing. */
static void test_config_agent_types_ini_matches_presets(void **state)
{
    struct fx *f = *state;
    char path[512], line[256], section[64] = "";
    struct cfg fresh;
    char *a, *b;
    size_t nprofile = 0, per_type[CFG_AGENT_NTYPES] = {0};
    FILE *fp;

    for (size_t i = 0; i < cfg_key_count(); i++) {
        struct cfg_key_info k;
        cfg_key_get(i, &k);
        nprofile += !strcmp(k.section, "profile");
    }
    snprintf(path, sizeof path, "%s/configs/agent_types.ini", SETM_SOURCE_DIR);
    fp = fopen(path, "r");
    assert_non_null(fp);
    while (fgets(line, sizeof line, fp)) {
        if (!strncmp(line, "[type.", 6)) {
            snprintf(section, sizeof section, "%.*s", (int)(strcspn(line + 6, "]")), line + 6);
            assert_true(cfg_agent_type_from_name(section) >= 0);
        } else if (line[0] != ';' && strchr(line, '=')) {
            per_type[cfg_agent_type_from_name(section)]++;
        }
    }
    fclose(fp);
    for (int t = 0; t < CFG_AGENT_NTYPES; t++)
        if (per_type[t] != nprofile)
            fail_msg("agent_types.ini: [type.%s] has %zu keys, expected %zu",
                     cfg_agent_type_name(t), per_type[t], nprofile);
    assert_int_equal(cfg_load_file(&f->cfg, path, &f->e), 0);
    cfg_init(&fresh);
    a = cfg_to_string(&f->cfg);
    b = cfg_to_string(&fresh);
    assert_string_equal(a, b);
    free(a);
    free(b);
    cfg_fini(&fresh);
}

static void test_config_table1_presets(void **state)
{
    struct fx *f = *state;
    /* Table 1: forecast days and min/max bids per stakeholder type. */
    const struct {
        int type;
        int64_t fd;
        double lo, hi;
    } t1[] = {{CFG_AGENT_HOME_SOLAR, 9, 34, 46},      {CFG_AGENT_WEARABLE, 4, 34, 46},
              {CFG_AGENT_SMART_DEVICE, 9, 36, 48},    {CFG_AGENT_SMART_VEHICLE, 18, 36, 48},
              {CFG_AGENT_PERSONAL_OFFICE, 8, 38, 48}, {CFG_AGENT_SMART_FACTORY, 1393, 36, 50},
              {CFG_AGENT_SOLAR_SYSTEM, 342, 40, 52}};
    for (size_t i = 0; i < 7; i++) {
        const struct cfg_profile *p = &f->cfg.types[t1[i].type];
        assert_int_equal(p->forecast_days, t1[i].fd);
        assert_true(p->min_bid == t1[i].lo && p->max_bid == t1[i].hi);
    }
}

static void test_config_auto_takes_type_preset(void **state)
{
    struct fx *f = *state;
    struct cfg_profile p;
    const char *path = put(f, "s.ini",
                           "[type.home_solar]\npv_kwp = 7\n"
                           "[agent.plant]\ntype = solar_system\nload_kwh_day = 9\n"
                           "[agent.house]\ntype = home_solar\nmin_bid = auto\n");
    assert_int_equal(cfg_load_file(&f->cfg, path, &f->e), 0);
    assert_true(isnan(f->cfg.agents[0].p.min_bid)); /* stays auto in the group */
    cfg_agent_resolve(&f->cfg, &f->cfg.agents[0], &p);
    assert_true(p.min_bid == 40 && p.max_bid == 52);
    assert_int_equal(p.forecast_days, 342);
    assert_true(p.load_kwh_day == 9); /* the group's override */
    assert_true(p.pv_kwp == 500);
    cfg_agent_resolve(&f->cfg, &f->cfg.agents[1], &p);
    assert_true(p.pv_kwp == 7); /* the scenario's [type.home_solar] */
    assert_int_equal(p.load_shape, CFG_SHAPE_RESIDENTIAL);
}

static void test_config_error_auto_outside_agent_group(void **state)
{
    expect_error(*state, "[type.home_solar]\npv_kwp = auto\n", ERR_CONFIG, "bad.ini:2:",
                 "auto is only meaningful in [agent.NAME]");
}

static void test_config_error_unknown_type_section(void **state)
{
    expect_error(*state, "[type.nuclear]\npv_kwp = 1\n", ERR_CONFIG, "[type.nuclear]",
                 "unknown agent type");
}

static void test_config_error_bids_inverted_after_preset(void **state)
{
    struct fx *f = *state;
    const char *path = put(f, "s.ini", "[agent.house]\ntype = home_solar\nmin_bid = 60\n");
    assert_int_equal(cfg_load_file(&f->cfg, path, &f->e), 0);
    assert_int_equal(cfg_validate(&f->cfg, &f->e), ERR_CONFIG);
    assert_non_null(strstr(f->e.msg, "[agent.house] min_bid = 60 is above max_bid = 46"));
}

static void test_config_population_needs_shares(void **state)
{
    struct fx *f = *state;
    assert_int_equal(cfg_set(&f->cfg, "population.count=100", &f->e), 0);
    assert_int_equal(cfg_validate(&f->cfg, &f->e), ERR_CONFIG);
    assert_non_null(strstr(f->e.msg, "share"));
    assert_int_equal(cfg_set(&f->cfg, "population.home_solar=3", &f->e), 0);
    assert_int_equal(cfg_validate(&f->cfg, &f->e), 0);
    assert_int_equal(cfg_agent_total(&f->cfg), 100);
}

static void test_config_csv_path_relative_to_scenario(void **state)
{
    struct fx *f = *state;
    char want[256];
    const char *path = put(f, "s.ini", "[agent.x]\nload_csv = data/x.csv\n"
                                       "generation_csv = /abs/g.csv\n");
    assert_int_equal(cfg_load_file(&f->cfg, path, &f->e), 0);
    snprintf(want, sizeof want, "%s/data/x.csv", f->dir);
    assert_string_equal(f->cfg.agents[0].load_csv, want);
    assert_string_equal(f->cfg.agents[0].generation_csv, "/abs/g.csv");
    assert_int_equal(cfg_set(&f->cfg, "agent.y.load_csv=rel.csv", &f->e), 0);
    assert_string_equal(f->cfg.agents[1].load_csv, "rel.csv"); /* --set: the working directory */
}

static void test_config_sweep_section_kept_raw(void **state)
{
    struct fx *f = *state;
    const char *p;
    char *text;
    put(f, "base.ini", "[sweep]\nseeds = 2\nmarket.rounds_per_slot = 1, 2\n");
    p = put(f, "s.ini", "[scenario]\nuse = base.ini\n[sweep]\n"
                        "chain.difficulty_bits = 12:24:4\nseeds = 5\n");
    assert_int_equal(cfg_load_file(&f->cfg, p, &f->e), 0);
    assert_int_equal(f->cfg.n_sweep, 3);
    assert_string_equal(f->cfg.sweep[0].key, "seeds");
    assert_string_equal(f->cfg.sweep[0].value, "5"); /* the scenario overrides base.ini */
    assert_int_equal(f->cfg.sweep[0].line, 5);
    assert_non_null(strstr(f->cfg.sweep[0].origin, "s.ini"));
    assert_string_equal(f->cfg.sweep[1].value, "1, 2");
    assert_string_equal(f->cfg.sweep[2].key, "chain.difficulty_bits");
    text = cfg_to_string(&f->cfg);
    assert_null(strstr(text, "[sweep]")); /* a resolved configuration is one point */
    free(text);
    assert_int_equal(cfg_set(&f->cfg, "sweep.seeds=3", &f->e), ERR_CONFIG);
    expect_error(f, "[sweep]\nseeds = 1\nseeds = 2\n", ERR_CONFIG, "bad.ini:3:", "twice");
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_config_compiled_defaults),
        T(test_config_defaults_ini_matches_schema),
        T(test_config_loading_defaults_ini_is_identity),
        T(test_config_reads_values_and_agent_groups),
        T(test_config_use_composes_in_order),
        T(test_config_set_overrides_last),
        T(test_config_set_errors),
        T(test_config_tx_window_bounded),
        T(test_config_error_unknown_section),
        T(test_config_error_unknown_key_lists_known),
        T(test_config_error_unknown_key_names_closest),
        T(test_config_error_unknown_section_names_closest),
        T(test_config_error_unknown_key_names_its_section),
        T(test_config_error_unknown_key_far_from_all_no_guess),
        T(test_config_error_not_an_integer),
        T(test_config_error_out_of_range_names_unit),
        T(test_config_error_not_a_number),
        T(test_config_error_bad_choice),
        T(test_config_security_mutual_key),
        T(test_config_error_integer_overflow),
        T(test_config_error_string_too_long),
        T(test_config_error_text_that_cannot_round_trip),
        T(test_config_error_duplicate_key),
        T(test_config_error_key_outside_section),
        T(test_config_error_syntax),
        T(test_config_error_line_too_long),
        T(test_config_error_bad_agent_name),
        T(test_config_error_missing_file),
        T(test_config_error_binary_file),
        T(test_config_error_not_a_regular_file),
        T(test_config_error_use_missing),
        T(test_config_error_use_cycle),
        T(test_config_error_in_used_file_names_both),
        T(test_config_validate_cross_key),
        T(test_config_write_round_trips),
        T(test_config_agent_types_ini_matches_presets),
        T(test_config_table1_presets),
        T(test_config_auto_takes_type_preset),
        T(test_config_error_auto_outside_agent_group),
        T(test_config_error_unknown_type_section),
        T(test_config_error_bids_inverted_after_preset),
        T(test_config_population_needs_shares),
        T(test_config_csv_path_relative_to_scenario),
        T(test_config_sweep_section_kept_raw),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
