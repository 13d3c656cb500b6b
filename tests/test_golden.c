/* test_golden — checked-in expectations of whole runs (tests/golden/NAME.txt): the chain tip hash and
 * chosen /summary scalars of the case study and of the attack demo, so an unintended change of
 * behaviour fails with the quantity, the expected and the observed value.
 *
 * A golden file is "key = value" lines ('#' starts a comment line):
 *   run = SCENARIO [ARGS...]     the `setm run` command (paths relative to the source tree)
 *   attr.NAME = TEXT             a root attribute of the run file, compared as text
 *   summary.NAME = NUMBER        a /summary scalar: integers exactly, floats to a relative 1e-9
 *                                (printed with 17 digits; the slack only absorbs compiler modes)
 * A deliberate change of behaviour rewrites every value with `make golden` (this program with
 * --write), which keeps the comments, the run line and the list of keys; commit the result with
 * the change that caused it. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cli_harness.h"
#include "io/h5.h"

#define GOLDEN_MAX_LINES 64
#define GOLDEN_LINE 512

struct golden {
    char lines[GOLDEN_MAX_LINES][GOLDEN_LINE]; /* the file as read, one entry per line */
    size_t n;
};

static int golden_read(const char *path, struct golden *g)
{
    FILE *fp = fopen(path, "r");
    g->n = 0;
    if (!fp)
        return -1;
    while (g->n < GOLDEN_MAX_LINES && fgets(g->lines[g->n], GOLDEN_LINE, fp)) {
        g->lines[g->n][strcspn(g->lines[g->n], "\n")] = '\0';
        g->n++;
    }
    fclose(fp);
    return 0;
}

/* Split "key = value" (key and value trimmed, in place); 0 for a comment or blank line. */
static int golden_kv(char *line, char **key, char **value)
{
    char *eq;
    if (line[0] == '#' || line[0] == '\0' || !(eq = strstr(line, " = ")))
        return 0;
    *eq = '\0';
    *key = line;
    *value = eq + 3;
    return 1;
}

/* Run the golden file's command into dir/run.h5; 0, or -1 with why in msg. */
static int golden_run(const struct golden *g, const char *dir, char *msg, size_t n)
{
    char line[GOLDEN_LINE], *argv[32], out[256], err[4096], stdout_buf[4096];
    int argc = 0, rc;
    for (size_t i = 0; i < g->n; i++) {
        char *k, *v;
        snprintf(line, sizeof line, "%s", g->lines[i]);
        if (!golden_kv(line, &k, &v) || strcmp(k, "run"))
            continue;
        argv[argc++] = (char *)tu_setm_bin();
        argv[argc++] = "run";
        for (char *tok = strtok(v, " "); tok && argc < 26; tok = strtok(NULL, " "))
            argv[argc++] = tok;
        snprintf(out, sizeof out, "%s/run.h5", dir);
        argv[argc++] = "-o";
        argv[argc++] = out;
        argv[argc++] = "--quiet";
        argv[argc] = NULL;
        rc = tu_finish(dir, tu_spawn(dir, argv), stdout_buf, sizeof stdout_buf, err, sizeof err);
        if (rc != 0) {
            snprintf(msg, n, "setm run exited %d: %.3000s", rc, err);
            return -1;
        }
        return 0;
    }
    snprintf(msg, n, "no `run = SCENARIO ...` line");
    return -1;
}

static const struct h5_scalar *find_scalar(const struct h5_scalar *v, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i].name, name))
            return &v[i];
    return NULL;
}

/* Compare (or, with `write`, rewrite) every attr./summary. line of `g` against the run file
 * `h5path`.  Appends one line per mismatch to report; returns the number of mismatches. */
static int golden_compare(struct golden *g, const char *h5path, int write, char *report,
                          size_t rn)
{
    struct h5_reader *r = h5_reader_open(h5path, NULL);
    struct h5_scalar *sv = NULL;
    size_t ns = 0, used = strlen(report);
    int bad = 0;
#define REPORT(...)                                                                         \
    do {                                                                                    \
        if (used < rn)                                                                      \
            used += (size_t)snprintf(report + used, rn - used, __VA_ARGS__);                \
        bad++;                                                                              \
    } while (0)
    if (!r || h5_reader_summary(r, &sv, &ns, NULL) != 0) {
        REPORT("cannot read %s\n", h5path);
        h5_reader_close(r);
        return bad;
    }
    for (size_t i = 0; i < g->n; i++) {
        char line[GOLDEN_LINE], got[GOLDEN_LINE], *k, *v;
        snprintf(line, sizeof line, "%s", g->lines[i]);
        if (!golden_kv(line, &k, &v))
            continue;
        got[0] = '\0';
        if (!strncmp(k, "attr.", 5)) {
            char *s = NULL;
            if (h5_reader_attr_str(r, k + 5, &s, NULL) != 0) {
                REPORT("%s: expected %s, got no such root attribute\n", k, v);
                continue;
            }
            snprintf(got, sizeof got, "%s", s);
            free(s);
            if (!write && strcmp(got, v))
                REPORT("%s: expected %s, got %s\n", k, v, got);
        } else if (!strncmp(k, "summary.", 8)) {
            const struct h5_scalar *sc = find_scalar(sv, ns, k + 8);
            if (!sc) {
                REPORT("%s: expected %s, got no such /summary scalar\n", k, v);
                continue;
            }
            if (sc->is_int)
                snprintf(got, sizeof got, "%lld", (long long)sc->i);
            else
                snprintf(got, sizeof got, "%.17g", sc->f);
            if (!write) {
                char *end;
                double want;
                errno = 0;
                want = strtod(v, &end);
                if (*end || errno)
                    REPORT("%s: the golden value '%s' is not a number\n", k, v);
                else if (sc->is_int ? strtoll(v, NULL, 10) != sc->i || strchr(v, '.')
                                    : !(fabs(sc->f - want) <= 1e-9 * fabs(want)))
                    REPORT("%s: expected %s, got %s\n", k, v, got);
            }
        } else if (strcmp(k, "run")) {
            REPORT("%s: unknown key (run, attr.NAME or summary.NAME)\n", k);
            continue;
        }
        if (write && got[0])
            snprintf(g->lines[i], GOLDEN_LINE, "%.200s = %.300s", k, got);
    }
#undef REPORT
    free(sv);
    h5_reader_close(r);
    return bad;
}

/* Run the golden file `name` (under tests/golden/) and compare; fails naming each quantity. */
static void check_golden(const char *name)
{
    char path[512], dir[64], h5[128], report[8192] = "", why[4096];
    struct golden *g = calloc(1, sizeof *g);
    int bad;
    assert_non_null(g);
    snprintf(path, sizeof path, "tests/golden/%s", name);
    if (golden_read(path, g) != 0)
        fail_msg("%s: cannot read: %s", path, strerror(errno));
    assert_int_equal(tu_mkdtemp(dir, "golden"), 0);
    if (golden_run(g, dir, why, sizeof why) != 0) {
        tu_rmrf(dir);
        fail_msg("%s: %s", path, why);
    }
    snprintf(h5, sizeof h5, "%s/run.h5", dir);
    bad = golden_compare(g, h5, 0, report, sizeof report);
    tu_rmrf(dir);
    free(g);
    if (bad)
        fail_msg("%s: %d quantities differ from the golden run:\n%s"
                 "(an intended change of behaviour: `make golden` and commit tests/golden/)",
                 path, bad, report);
}

static void test_golden_case_study_matches(void **state)
{
    (void)state;
    check_golden("case_study.txt");
}

static void test_golden_attacks_demo_matches(void **state)
{
    (void)state;
    check_golden("attacks_demo.txt");
}

/* The checker itself: a wrong value is reported with its name, the expected and the got value,
 * and a right one is not. */
static void test_golden_mismatch_names_quantity_expected_and_got(void **state)
{
    char dir[64], scn[128], h5[128], report[4096] = "", why[1024];
    struct golden *g = calloc(1, sizeof *g);
    FILE *fp;
    (void)state;
    assert_non_null(g);
    assert_int_equal(tu_mkdtemp(dir, "golden"), 0);
    snprintf(scn, sizeof scn, "%s/s.ini", dir);
    fp = fopen(scn, "w");
    assert_non_null(fp);
    fputs("[scenario]\nname = g\nseed = 2\n[sim]\ndays = 0.25\n[population]\ncount = 6\n"
          "home_solar = 2\nsmart_device = 1\nsolar_system = 0.3\n",
          fp);
    fclose(fp);
    snprintf(g->lines[0], GOLDEN_LINE, "run = %s --backend cpu", scn);
    snprintf(g->lines[1], GOLDEN_LINE, "summary.slots = 24"); /* 0.25 day of 15-minute slots */
    snprintf(g->lines[2], GOLDEN_LINE, "summary.trades = 999999");
    snprintf(g->lines[3], GOLDEN_LINE, "summary.sim_seconds = 21600");
    snprintf(g->lines[4], GOLDEN_LINE, "attr.scenario_name = not-g");
    g->n = 5;
    if (golden_run(g, dir, why, sizeof why) != 0)
        fail_msg("%s", why);
    snprintf(h5, sizeof h5, "%s/run.h5", dir);
    assert_int_equal(golden_compare(g, h5, 0, report, sizeof report), 2);
    assert_non_null(strstr(report, "summary.trades: expected 999999, got "));
    assert_non_null(strstr(report, "attr.scenario_name: expected not-g, got g\n"));
    assert_null(strstr(report, "summary.slots"));
    assert_null(strstr(report, "summary.sim_seconds"));
    /* --write puts the observed values in, after which the file matches */
    report[0] = '\0';
    assert_int_equal(golden_compare(g, h5, 1, report, sizeof report), 0);
    assert_int_equal(golden_compare(g, h5, 0, report, sizeof report), 0);
    assert_string_equal(g->lines[4], "attr.scenario_name = g");
    tu_rmrf(dir);
    free(g);
}

/* `make golden`: rerun every file named on the command line and rewrite its values. */
static int golden_write(int argc, char **argv)
{
    for (int a = 0; a < argc; a++) {
        char dir[64], h5[128], report[4096] = "", why[4096];
        struct golden *g = calloc(1, sizeof *g);
        FILE *fp;
        if (!g || golden_read(argv[a], g) != 0) {
            fprintf(stderr, "golden: %s: cannot read\n", argv[a]);
            return 1;
        }
        if (tu_mkdtemp(dir, "golden") != 0 || golden_run(g, dir, why, sizeof why) != 0) {
            fprintf(stderr, "golden: %s: %s\n", argv[a], why);
            return 1;
        }
        snprintf(h5, sizeof h5, "%s/run.h5", dir);
        if (golden_compare(g, h5, 1, report, sizeof report) != 0) {
            fprintf(stderr, "golden: %s: %s", argv[a], report);
            return 1;
        }
        tu_rmrf(dir);
        fp = fopen(argv[a], "w");
        if (!fp) {
            fprintf(stderr, "golden: %s: %s\n", argv[a], strerror(errno));
            return 1;
        }
        for (size_t i = 0; i < g->n; i++)
            fprintf(fp, "%s\n", g->lines[i]);
        if (fclose(fp) != 0)
            return 1;
        printf("golden: wrote %s\n", argv[a]);
        free(g);
    }
    return 0;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_mismatch_names_quantity_expected_and_got),
        cmocka_unit_test(test_golden_case_study_matches),
        cmocka_unit_test(test_golden_attacks_demo_matches),
    };
    const char *src = getenv("SETM_SOURCE_DIR");
    if (chdir(src ? src : SETM_SOURCE_DIR) != 0) {
        perror("chdir to the source tree");
        return 1;
    }
    if (argc > 1 && !strcmp(argv[1], "--write"))
        return golden_write(argc - 2, argv + 2);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
