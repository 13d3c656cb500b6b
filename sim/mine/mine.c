/*
 * mine — the backend-neutral nonce search: option parsing, backend choice (auto falls back from
 * OpenCL to the CPU), range checks, and the host-side confirmation of every answer.
 *
 * Invariant: a struct mine holds exactly one working backend (ocl or cpu non-NULL, never both),
 * which passed its known-answer self-test when it was built; and every nonce mine_search reports
 * has been re-hashed here with the portable code and meets the target.
 */
#include "mine/mine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain/sha256.h"
#include "mine/backend.h"

struct mine {
    struct mine_cpu *cpu;   /* the CPU backend, or NULL */
    struct mine_ocl *ocl;   /* the OpenCL backend, or NULL */
    char note[ERR_MSG_MAX + 64]; /* why auto did not take OpenCL, or left it mid-run */
    int fallback_ok;        /* backend auto: a failing device hands over to the CPU */
    unsigned threads;       /* for building the CPU backend on a fallback */
    enum mine_cpu_path cpu_path;
    uint64_t searches;      /* OpenCL searches so far */
    uint64_t fault_after;   /* test hook: OpenCL fails from this search on (0 = never) */
};

void mine_opts_init(struct mine_opts *o)
{
    memset(o, 0, sizeof *o);
    o->backend = MINE_BACKEND_AUTO;
    o->cpu_path = MINE_CPU_PATH_AUTO;
}

int mine_backend_parse(const char *s, enum mine_backend *out, struct err *e)
{
    if (s && !strcmp(s, "auto"))
        *out = MINE_BACKEND_AUTO;
    else if (s && !strcmp(s, "opencl"))
        *out = MINE_BACKEND_OPENCL;
    else if (s && !strcmp(s, "cpu"))
        *out = MINE_BACKEND_CPU;
    else
        return err_set(e, ERR_USAGE, "backend '%s': expected auto, opencl or cpu", s ? s : "");
    return 0;
}

int mine_cpu_path_parse(const char *s, enum mine_cpu_path *out, struct err *e)
{
    if (s && !strcmp(s, "auto"))
        *out = MINE_CPU_PATH_AUTO;
    else if (s && !strcmp(s, "portable"))
        *out = MINE_CPU_PATH_PORTABLE;
    else if (s && !strcmp(s, "sha-ni"))
        *out = MINE_CPU_PATH_SHANI;
    else
        return err_set(e, ERR_USAGE, "CPU path '%s': expected auto, portable or sha-ni",
                       s ? s : "");
    return 0;
}

int mine_cpu_has_shani(void)
{
    return mine_shani_available();
}

void mine_work_init(struct mine_work *w, const unsigned char header[MINE_HEADER_LEN],
                    const unsigned char target[MINE_TARGET_LEN], uint32_t start)
{
    chain_sha256_iv(w->mid);
    chain_sha256_compress(w->mid, header);
    for (int i = 0; i < 3; i++) {
        const unsigned char *p = header + 64 + 4 * i;
        w->tail[i] = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    }
    for (int i = 0; i < 8; i++) {
        const unsigned char *p = target + 4 * i;
        w->target[i] = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                       (uint32_t)p[3] << 24;
    }
    w->start = start;
}

struct mine *mine_new(const struct mine_opts *o, struct err *e)
{
    struct mine *m;
    struct err oe = {0};

    if (o->backend != MINE_BACKEND_AUTO && o->backend != MINE_BACKEND_OPENCL &&
        o->backend != MINE_BACKEND_CPU) {
        err_set(e, ERR_USAGE, "unknown backend %d", (int)o->backend);
        return NULL;
    }
    if (o->cl_vector != 0 && o->cl_vector != 1 && o->cl_vector != 2 && o->cl_vector != 4 &&
        o->cl_vector != 8 && o->cl_vector != 16) {
        err_set(e, ERR_USAGE, "OpenCL vector width %u: expected 1, 2, 4, 8 or 16", o->cl_vector);
        return NULL;
    }
    m = calloc(1, sizeof *m);
    if (!m) {
        err_set(e, ERR_NOMEM, "mine_new: out of memory");
        return NULL;
    }
    m->fallback_ok = o->backend == MINE_BACKEND_AUTO;
    m->threads = o->threads;
    m->cpu_path = o->cpu_path;
    {
        /* SETM_CPU_PATH=portable|sha-ni picks the CPU path where the caller left it on auto
         * (setm run has no flag for it): the validation suite compares the paths' chains. */
        const char *cp = getenv("SETM_CPU_PATH");
        if (cp && *cp && m->cpu_path == MINE_CPU_PATH_AUTO &&
            mine_cpu_path_parse(cp, &m->cpu_path, e)) {
            err_wrap(e, ERR_USAGE, "SETM_CPU_PATH");
            goto fail;
        }
    }
    {
        /* Fault injection for the tests of the fallback: a device error from search N on. */
        const char *f = getenv("SETM_FAULT_OPENCL_AFTER");
        if (f && *f)
            m->fault_after = strtoull(f, NULL, 10) + 1;
    }
    if (o->backend != MINE_BACKEND_CPU) {
        m->ocl = mine_ocl_new(o->platform, o->device, o->kernel_dir, o->cl_vector, m->note,
                              sizeof m->note, &oe);
        if (m->ocl) {
            m->note[0] = '\0';
            return m;
        }
        if (o->backend == MINE_BACKEND_OPENCL || oe.code == ERR_NOMEM) {
            if (e)
                *e = oe;
            goto fail;
        }
        snprintf(m->note, sizeof m->note, "OpenCL not used: %s", oe.msg);
    }
    m->cpu = mine_cpu_new(o->threads, m->cpu_path, e);
    if (!m->cpu)
        goto fail;
    return m;
fail:
    mine_free(m);
    return NULL;
}

void mine_free(struct mine *m)
{
    if (!m)
        return;
    mine_ocl_free(m->ocl);
    mine_cpu_free(m->cpu);
    free(m);
}

/* One search on the current backend.  A winner is confirmed on the host with the reference code,
 * so a faulty device can never put a wrong nonce into a chain: it is an ERR_DEVICE instead. */
static int search_once(struct mine *m, const unsigned char header[MINE_HEADER_LEN],
                       const unsigned char target[MINE_TARGET_LEN], uint32_t start,
                       struct mine_work *w, uint64_t count, uint64_t *first, struct err *e)
{
    unsigned char hdr[MINE_HEADER_LEN], hash[MINE_HASH_LEN];
    int rc;
    if (m->ocl) {
        if (m->fault_after && ++m->searches >= m->fault_after)
            return err_set(e, ERR_DEVICE, "injected device fault (SETM_FAULT_OPENCL_AFTER)");
        rc = mine_ocl_search(m->ocl, w, count, first, e);
    } else {
        rc = mine_cpu_search(m->cpu, w, count, first, e);
    }
    if (rc || *first == MINE_NONE)
        return rc;
    if (*first >= count)
        return err_set(e, ERR_DEVICE, "%s returned offset %llu outside the range of %llu",
                       mine_backend_name(m), (unsigned long long)*first, (unsigned long long)count);
    memcpy(hdr, header, sizeof hdr);
    mine_header_set_u32(hdr, MINE_HDR_NONCE, start + (uint32_t)*first);
    chain_sha256d(hdr, sizeof hdr, hash);
    if (!mine_hash_meets_target(hash, target))
        return err_set(e, ERR_DEVICE, "%s returned nonce %u whose hash does not meet the target",
                       mine_backend_name(m), (unsigned)(start + (uint32_t)*first));
    return 0;
}

int mine_search(struct mine *m, const unsigned char header[MINE_HEADER_LEN],
                const unsigned char target[MINE_TARGET_LEN], uint32_t start, uint64_t count,
                struct mine_result *res, struct err *e)
{
    struct mine_work w;
    unsigned char hdr[MINE_HEADER_LEN];
    uint64_t first = MINE_NONE;
    int rc;

    memset(res, 0, sizeof *res);
    if (count == 0 || count > (UINT64_C(1) << 32))
        return err_set(e, ERR_USAGE, "nonce count %llu out of range 1..2^32",
                       (unsigned long long)count);
    mine_work_init(&w, header, target, start);
    rc = search_once(m, header, target, start, &w, count, &first, e);
    if (rc == ERR_DEVICE && m->ocl && m->fallback_ok) {
        /* The device failed mid-run: the CPU finds the same lowest nonce, so the run goes on
         * unchanged apart from speed. */
        char why[ERR_MSG_MAX];
        snprintf(why, sizeof why, "%s", e ? e->msg : "device error");
        m->cpu = mine_cpu_new(m->threads, m->cpu_path, e);
        if (!m->cpu)
            return e ? e->code : ERR_NOMEM;
        mine_ocl_free(m->ocl);
        m->ocl = NULL;
        snprintf(m->note, sizeof m->note, "OpenCL failed during the run (%s); continued on the CPU",
                 why);
        err_clear(e);
        first = MINE_NONE;
        mine_work_init(&w, header, target, start);
        rc = search_once(m, header, target, start, &w, count, &first, e);
    }
    if (rc)
        return rc;
    if (first == MINE_NONE) {
        res->attempts = count;
        return err_set(e, ERR_NOSOLUTION, "no nonce in %llu from %u meets the target",
                       (unsigned long long)count, (unsigned)start);
    }
    memcpy(hdr, header, sizeof hdr);
    mine_header_set_u32(hdr, MINE_HDR_NONCE, start + (uint32_t)first);
    chain_sha256d(hdr, sizeof hdr, res->hash);
    res->found = 1;
    res->nonce = start + (uint32_t)first;
    res->attempts = first + 1;
    return 0;
}

const char *mine_backend_name(const struct mine *m)
{
    return m->ocl ? "opencl" : mine_cpu_name(m->cpu);
}

const char *mine_device_desc(const struct mine *m)
{
    return m->ocl ? mine_ocl_desc(m->ocl) : mine_cpu_desc(m->cpu);
}

const char *mine_note(const struct mine *m)
{
    return m->note;
}

unsigned mine_threads(const struct mine *m)
{
    return m->ocl ? 1 : mine_cpu_threads(m->cpu);
}
