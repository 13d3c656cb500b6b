/*
 * sweep — [sweep] values, the run numbering and each run's configuration (contract in sweep.h).
 *
 * Invariant: every value stored in a sweep_param has been applied once with cfg_set to the base
 * scenario and accepted, so a run can only fail to configure through cfg_validate's cross-key
 * checks (min_bid <= max_bid, shares...), which sweep_run_cfg reports with the run's values.
 */
#include "run/sweep.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/grow.h"
#include "core/rng.h"

#define SEED_MASK ((UINT64_C(1) << 53) - 1) /* scenario.seed accepts [0, 2^53 - 1] */

/* A growing list of value strings, the parse result of one [sweep] entry. */
struct vlist {
    char **v;
    size_t n, cap;
};

static int vlist_push(struct vlist *l, const char *s, size_t len)
{
    char *c;
    if (grow_array(&l->v, &l->cap, l->n + 1, sizeof *l->v))
        return ERR_NOMEM;
    c = malloc(len + 1);
    if (!c)
        return ERR_NOMEM;
    memcpy(c, s, len);
    c[len] = '\0';
    l->v[l->n++] = c;
    return 0;
}

static void vlist_fini(struct vlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* Whole-string parses; no leading/trailing junk. */
static int parse_i64(const char *s, long long *out)
{
    char *end;
    if (!*s)
        return 0;
    errno = 0;
    *out = strtoll(s, &end, 10);
    return !errno && !*end;
}

static int parse_f64(const char *s, double *out)
{
    char *end;
    if (!*s)
        return 0;
    errno = 0;
    *out = strtod(s, &end);
    return !errno && !*end && isfinite(*out);
}

static int fail(const struct cfg_sweep_entry *ent, struct err *e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(const struct cfg_sweep_entry *ent, struct err *e, const char *fmt, ...)
{
    char msg[ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return err_set(e, ERR_CONFIG, "%s:%d: [sweep] %s = %s: %s", ent->origin, ent->line, ent->key,
                   ent->value, msg);
}

/* Does the schema give `key` ("section.name", "agent.G.name", "type.T.name") an integer type? */
static int key_is_integer(const char *key)
{
    const char *dot = strrchr(key, '.');
    char section[2 * CFG_NAME_MAX];
    const char *alt = NULL;
    struct cfg_key_info ki;
    if (!dot)
        return 0;
    snprintf(section, sizeof section, "%.*s", (int)(dot - key), key);
    if (!strncmp(section, "agent.", 6)) {
        strcpy(section, "agent.*");
        alt = "profile";
    } else if (!strncmp(section, "type.", 5)) {
        strcpy(section, "profile");
    }
    for (size_t i = 0; i < cfg_key_count(); i++) {
        cfg_key_get(i, &ki);
        if (strcmp(ki.name, dot + 1) || (strcmp(ki.section, section) &&
                                         (!alt || strcmp(ki.section, alt))))
            continue;
        return !strcmp(ki.type, "integer");
    }
    return 0;
}

static int push_f64(struct vlist *l, double x)
{
    char buf[64];
    int n = snprintf(buf, sizeof buf, "%.15g", x == 0 ? 0.0 : x); /* no "-0" */
    return vlist_push(l, buf, (size_t)n);
}

static int push_i64(struct vlist *l, long long x)
{
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%lld", x);
    return vlist_push(l, buf, (size_t)n);
}

/* Split `item` at ':' into at most `max` fields (copied, trimmed); returns the field count. */
static int split_colon(const char *item, char fields[][64], int max)
{
    int n = 0;
    const char *p = item;
    for (;;) {
        const char *c = strchr(p, ':');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        if (n == max)
            return max + 1;
        while (len && isspace((unsigned char)*p)) {
            p++;
            len--;
        }
        while (len && isspace((unsigned char)p[len - 1]))
            len--;
        if (len >= 64)
            len = 63; /* a field that long is no number; parsing it fails below */
        memcpy(fields[n], p, len);
        fields[n][len] = '\0';
        n++;
        if (!c)
            return n;
        p = c + 1;
    }
}

/* lo:hi:step */
static int expand_range(const struct cfg_sweep_entry *ent, const char *item, struct vlist *l,
                        struct err *e)
{
    char f[4][64];
    long long ilo, ihi, istep;
    double lo, hi, step, count;
    int rc = 0;
    if (split_colon(item, f, 3) != 3)
        return fail(ent, e, "'%s' is not a range lo:hi:step (or log:lo:hi:n)", item);
    if (parse_i64(f[0], &ilo) && parse_i64(f[1], &ihi) && parse_i64(f[2], &istep)) {
        if (istep == 0)
            return fail(ent, e, "range '%s': step must not be 0", item);
        if (llabs(ilo) > (1LL << 53) || llabs(ihi) > (1LL << 53) || llabs(istep) > (1LL << 53))
            return fail(ent, e, "range '%s': values beyond 2^53 are not supported", item);
        if ((ihi - ilo) / istep < 0 || (ihi != ilo && (ihi > ilo) != (istep > 0)))
            return fail(ent, e, "range '%s': the step moves away from hi", item);
        if ((ihi - ilo) / istep >= SWEEP_MAX_RUNS)
            return fail(ent, e, "range '%s' has more than %d values", item, SWEEP_MAX_RUNS);
        for (long long k = 0; !rc && k <= (ihi - ilo) / istep; k++)
            rc = push_i64(l, ilo + k * istep);
        return rc ? err_set(e, rc, "out of memory") : 0;
    }
    if (!parse_f64(f[0], &lo) || !parse_f64(f[1], &hi) || !parse_f64(f[2], &step))
        return fail(ent, e, "range '%s': lo, hi and step must be numbers", item);
    if (step == 0)
        return fail(ent, e, "range '%s': step must not be 0", item);
    count = (hi - lo) / step;
    if (count < -1e-9)
        return fail(ent, e, "range '%s': the step moves away from hi", item);
    if (count >= SWEEP_MAX_RUNS)
        return fail(ent, e, "range '%s' has more than %d values", item, SWEEP_MAX_RUNS);
    count = floor(count + 1e-9);
    for (long long k = 0; !rc && k <= (long long)count; k++)
        rc = push_f64(l, lo + (double)k * step);
    return rc ? err_set(e, rc, "out of memory") : 0;
}

/* log:lo:hi:n */
static int expand_log(const struct cfg_sweep_entry *ent, const char *item, int integer,
                      struct vlist *l, struct err *e)
{
    char f[5][64];
    long long n, prev = 0;
    double lo, hi;
    int rc = 0;
    if (split_colon(item, f, 4) != 4 || strcmp(f[0], "log"))
        return fail(ent, e, "'%s' is not a log range log:lo:hi:n", item);
    if (!parse_f64(f[1], &lo) || !parse_f64(f[2], &hi) || lo <= 0 || hi <= 0)
        return fail(ent, e, "log range '%s': lo and hi must be numbers > 0", item);
    if (!parse_i64(f[3], &n) || n < 2 || n > SWEEP_MAX_RUNS)
        return fail(ent, e, "log range '%s': n must be an integer in [2, %d]", item,
                    SWEEP_MAX_RUNS);
    for (long long k = 0; !rc && k < n; k++) {
        double x = k == 0 ? lo : k == n - 1 ? hi
                                            : exp(log(lo) + (log(hi) - log(lo)) * (double)k /
                                                                (double)(n - 1));
        if (integer) {
            long long r = llround(x);
            if (k > 0 && r == prev)
                return fail(ent, e,
                            "log range '%s' rounds to the integer %lld twice (this key takes "
                            "integers): use fewer points or a wider range",
                            item, r);
            prev = r;
            rc = push_i64(l, r);
        } else {
            rc = push_f64(l, x);
        }
    }
    return rc ? err_set(e, rc, "out of memory") : 0;
}

/* Expand the comma-separated items of one [sweep] value into `l`. */
static int expand_value(const struct cfg_sweep_entry *ent, int integer, struct vlist *l,
                        struct err *e)
{
    const char *p = ent->value;
    for (;;) {
        char item[CFG_STR_MAX];
        const char *start, *end;
        size_t len;
        int rc;
        while (isspace((unsigned char)*p))
            p++;
        start = p;
        if (*p == '"') {
            const char *q = strchr(p + 1, '"');
            if (!q)
                return fail(ent, e, "a quoted item has no closing '\"'");
            end = q + 1;
            p = end;
            while (isspace((unsigned char)*p))
                p++;
            if (*p && *p != ',')
                return fail(ent, e, "text after a quoted item: '%s'", p);
        } else {
            while (*p && *p != ',')
                p++;
            end = p;
            while (end > start && isspace((unsigned char)end[-1]))
                end--;
        }
        len = (size_t)(end - start);
        if (len == 0)
            return fail(ent, e, "an empty item (two commas in a row, or a trailing comma)");
        memcpy(item, start, len);
        item[len] = '\0';
        if (item[0] == '"') { /* "" is the empty value (a string key's "unset") */
            rc = vlist_push(l, item + 1, len - 2);
            if (rc)
                return err_set(e, rc, "out of memory");
        } else if (!strncmp(item, "log:", 4)) {
            rc = expand_log(ent, item, integer, l, e);
        } else if (strchr(item, ':')) {
            rc = expand_range(ent, item, l, e);
        } else {
            rc = vlist_push(l, item, len);
            if (rc)
                return err_set(e, rc, "out of memory");
        }
        if (rc)
            return rc;
        if (l->n > SWEEP_MAX_RUNS)
            return fail(ent, e, "more than %d values", SWEEP_MAX_RUNS);
        if (!*p)
            return 0;
        p++; /* the comma */
    }
}

static int kind_of(const struct vlist *l)
{
    int kind = SWEEP_INT;
    for (size_t i = 0; i < l->n; i++) {
        long long iv;
        double dv;
        if (parse_i64(l->v[i], &iv))
            continue;
        if (parse_f64(l->v[i], &dv))
            kind = SWEEP_NUM;
        else
            return SWEEP_WORD;
    }
    return kind;
}

/* cfg_set's message starts with "--set KEY=VALUE: "; the [sweep] entry names it better. */
static const char *strip_set_origin(const char *msg)
{
    const char *p;
    if (strncmp(msg, "--set ", 6) || !(p = strstr(msg, ": ")))
        return msg;
    return p + 2;
}

/* Apply each value to the base scenario: the key must exist and take every value. */
static int check_values(const struct cfg_sweep_entry *ent, const struct vlist *l, struct cfg *base,
                        struct err *e)
{
    for (size_t i = 0; i < l->n; i++) {
        char assign[2 * CFG_NAME_MAX + CFG_STR_MAX + 2];
        struct err se = {0};
        size_t groups = base->n_agents;
        int rc;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(l->v[j], l->v[i]))
                return fail(ent, e, "value '%s' appears twice", l->v[i]);
        if ((size_t)snprintf(assign, sizeof assign, "%s=%s", ent->key, l->v[i]) >= sizeof assign)
            return fail(ent, e, "value '%s' is too long", l->v[i]);
        rc = cfg_set(base, assign, &se);
        if (rc == ERR_NOMEM)
            return err_set(e, rc, "out of memory");
        if (rc)
            return fail(ent, e, "%s", strip_set_origin(se.msg));
        if (base->n_agents != groups) {
            const char *dot = strrchr(ent->key, '.');
            return fail(ent, e, "the scenario has no [%.*s] group to vary", (int)(dot - ent->key),
                        ent->key);
        }
    }
    return 0;
}

static int parse_seeds(const struct cfg_sweep_entry *ent, int64_t *out, struct err *e)
{
    long long n;
    char buf[CFG_STR_MAX];
    const char *s = ent->value;
    size_t len;
    while (isspace((unsigned char)*s))
        s++;
    len = strlen(s);
    while (len && isspace((unsigned char)s[len - 1]))
        len--;
    snprintf(buf, sizeof buf, "%.*s", (int)len, s);
    if (!parse_i64(buf, &n) || n < 1 || n > SWEEP_MAX_SEEDS)
        return fail(ent, e, "seeds takes one integer in [1, %d]: repetitions of every point",
                    SWEEP_MAX_SEEDS);
    *out = n;
    return 0;
}

void sweep_free(struct sweep *sw)
{
    if (!sw)
        return;
    for (size_t i = 0; i < sw->n_params; i++) {
        for (size_t j = 0; j < sw->params[i].n; j++)
            free(sw->params[i].values[j]);
        free(sw->params[i].values);
    }
    free(sw->params);
    free(sw);
}

struct sweep *sweep_new(sweep_load_fn load, void *load_ctx, struct err *e)
{
    struct sweep *sw = calloc(1, sizeof *sw);
    struct cfg base;
    struct vlist l = {0};
    int rc;

    cfg_init(&base);
    if (!sw) {
        err_set(e, ERR_NOMEM, "out of memory");
        goto fail;
    }
    sw->load = load;
    sw->load_ctx = load_ctx;
    sw->seeds = 1;
    sw->n_points = 1;
    if (load(&base, load_ctx, e))
        goto fail;
    sw->params = calloc(base.n_sweep ? base.n_sweep : 1, sizeof *sw->params);
    if (!sw->params) {
        err_set(e, ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < base.n_sweep; i++) {
        const struct cfg_sweep_entry *ent = &base.sweep[i];
        struct sweep_param *p;
        if (!strcmp(ent->key, "seeds")) {
            if (parse_seeds(ent, &sw->seeds, e))
                goto fail;
            continue;
        }
        if (!strchr(ent->key, '.')) {
            fail(ent, e, "unknown [sweep] key '%s' (expected seeds, or section.key as --set "
                         "takes it, e.g. population.count)",
                 ent->key);
            goto fail;
        }
        rc = expand_value(ent, key_is_integer(ent->key), &l, e);
        if (!rc)
            rc = check_values(ent, &l, &base, e);
        if (rc)
            goto fail;
        p = &sw->params[sw->n_params++];
        snprintf(p->key, sizeof p->key, "%s", ent->key);
        snprintf(p->origin, sizeof p->origin, "%s", ent->origin);
        p->line = ent->line;
        p->kind = kind_of(&l);
        p->n = l.n;
        p->values = l.v;
        memset(&l, 0, sizeof l);
        if (sw->n_points > SWEEP_MAX_RUNS / p->n) {
            fail(ent, e, "the sweep would have more than %d runs", SWEEP_MAX_RUNS);
            goto fail;
        }
        sw->n_points *= p->n;
    }
    if ((size_t)sw->seeds > SWEEP_MAX_RUNS / sw->n_points) {
        err_set(e, ERR_CONFIG, "[sweep]: %zu points x %lld seeds is more than %d runs",
                sw->n_points, (long long)sw->seeds, SWEEP_MAX_RUNS);
        goto fail;
    }
    sw->n_runs = sw->n_points * (size_t)sw->seeds;
    sw->name_digits = 4;
    for (size_t k = sw->n_runs > 0 ? sw->n_runs - 1 : 0; k >= 10000; k /= 10)
        sw->name_digits++;
    cfg_fini(&base);
    return sw;
fail:
    vlist_fini(&l);
    cfg_fini(&base);
    sweep_free(sw);
    return NULL;
}

void sweep_run_point(const struct sweep *sw, size_t run, size_t *point, int64_t *rep)
{
    *point = run / (size_t)sw->seeds;
    *rep = (int64_t)(run % (size_t)sw->seeds);
}

size_t sweep_run_value(const struct sweep *sw, size_t run, size_t p)
{
    size_t point = run / (size_t)sw->seeds;
    for (size_t q = sw->n_params; q-- > p + 1;)
        point /= sw->params[q].n; /* later keys vary faster */
    return point % sw->params[p].n;
}

int64_t sweep_seed_derive(int64_t seed, int64_t rep)
{
    if (rep == 0)
        return seed;
    return (int64_t)(rng_stream_key((uint64_t)seed, "sweep.seeds", (uint64_t)rep) & SEED_MASK);
}

char *sweep_run_describe(const struct sweep *sw, size_t run, char *buf, size_t n)
{
    size_t len = 0, point;
    int64_t rep;
    sweep_run_point(sw, run, &point, &rep);
    buf[0] = '\0';
    for (size_t p = 0; p < sw->n_params && len < n; p++)
        len += (size_t)snprintf(buf + len, n - len, "%s%s=%s", p ? ", " : "", sw->params[p].key,
                                sw->params[p].values[sweep_run_value(sw, run, p)]);
    if (sw->seeds > 1 && len < n)
        snprintf(buf + len, n - len, "%sseed #%lld", len ? ", " : "", (long long)rep);
    if (!buf[0])
        snprintf(buf, n, "the base scenario");
    return buf;
}

int sweep_run_cfg(const struct sweep *sw, size_t run, struct cfg *cfg, struct err *e)
{
    char desc[512];
    size_t point;
    int64_t rep;
    int rc = sw->load(cfg, sw->load_ctx, e);
    if (rc)
        return rc;
    for (size_t p = 0; p < sw->n_params; p++) {
        const struct sweep_param *sp = &sw->params[p];
        char assign[2 * CFG_NAME_MAX + CFG_STR_MAX + 2];
        snprintf(assign, sizeof assign, "%s=%s", sp->key, sp->values[sweep_run_value(sw, run, p)]);
        rc = cfg_set(cfg, assign, e);
        if (rc)
            return err_wrap(e, rc, "run %zu: ", run);
    }
    sweep_run_point(sw, run, &point, &rep);
    cfg->scenario.seed = sweep_seed_derive(cfg->scenario.seed, rep);
    rc = cfg_validate(cfg, e);
    if (rc)
        return err_wrap(e, rc, "[sweep] run %zu (%s): ", run,
                        sweep_run_describe(sw, run, desc, sizeof desc));
    return 0;
}

char *sweep_run_name(const struct sweep *sw, size_t run, char *buf, size_t n)
{
    snprintf(buf, n, "run-%0*zu.h5", sw->name_digits, run);
    return buf;
}
