/*
 * mine/mine_opencl — the OpenCL backend: device discovery and choice, the kernel build (once per
 * backend object, from kernels/sha256.cl + kernels/sha256d_search.cl read at run time), the
 * host-side precomputation, and launches in ascending offset order.
 *
 * Invariant: a struct mine_ocl exists only with a context, queue, built program, kernel and
 * buffers on one device that passed the known-answer self-test. Launches cover the offset range
 * in ascending, disjoint slices and the search stops after the first slice with a winner; each
 * slice's answer is its lowest winner (atomic_min on the device), so the first answer found is
 * the lowest of the whole range.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <CL/cl.h>

#include "mine/backend.h"

#include "sha256.cl"

/* Slots of the precomputation buffer; the kernel's PRE_* names the same slots. */
enum {
    PRE_MID = 0,
    PRE_S3 = 8,
    PRE_E4 = 16,
    PRE_A4 = 17,
    PRE_W16 = 18,
    PRE_W17 = 19,
    PRE_W18 = 20,
    PRE_W19 = 21,
    PRE_START = 22,
    PRE_TARGET = 24,
    PRE_TAIL = 32,
    PRE_H4 = 35,
    PRE_LEN = 36
};

#define OCL_FIRST_BATCH (UINT64_C(1) << 14) /* small first launch: easy searches end fast */
#define OCL_LOG_MAX 8192                  /* bytes of a build log kept */

struct mine_ocl {
    cl_context ctx;
    cl_command_queue queue;
    cl_program prog;
    cl_kernel kernel;
    cl_mem pre;               /* PRE_LEN words, rewritten per search */
    cl_mem best;              /* one word: lowest winning offset of a launch */
    size_t local;             /* work-group size, 0 = the runtime's choice */
    unsigned vw;              /* nonces per vector (the kernel's VW) */
    unsigned iters;           /* vectors per work-item (the kernel's `iters`), >= 1 */
    int calibrated;           /* local and iters come from ocl_calibrate */
    int builtins;             /* kernel built with rotate/bitselect (SETM_CL_BUILTINS) */
    uint64_t batch_max;       /* nonces per launch at most */
    char desc[MINE_DESC_MAX]; /* "platform: device (type, N CUs)" */
};

static const char *cl_errname(cl_int rc)
{
    switch (rc) {
    case CL_SUCCESS: return "CL_SUCCESS";
    case CL_DEVICE_NOT_FOUND: return "CL_DEVICE_NOT_FOUND";
    case CL_DEVICE_NOT_AVAILABLE: return "CL_DEVICE_NOT_AVAILABLE";
    case CL_COMPILER_NOT_AVAILABLE: return "CL_COMPILER_NOT_AVAILABLE";
    case CL_MEM_OBJECT_ALLOCATION_FAILURE: return "CL_MEM_OBJECT_ALLOCATION_FAILURE";
    case CL_OUT_OF_RESOURCES: return "CL_OUT_OF_RESOURCES";
    case CL_OUT_OF_HOST_MEMORY: return "CL_OUT_OF_HOST_MEMORY";
    case CL_BUILD_PROGRAM_FAILURE: return "CL_BUILD_PROGRAM_FAILURE";
    case CL_INVALID_VALUE: return "CL_INVALID_VALUE";
    case CL_INVALID_PLATFORM: return "CL_INVALID_PLATFORM";
    case CL_INVALID_DEVICE: return "CL_INVALID_DEVICE";
    case CL_INVALID_BUILD_OPTIONS: return "CL_INVALID_BUILD_OPTIONS";
    case CL_INVALID_KERNEL_NAME: return "CL_INVALID_KERNEL_NAME";
    case CL_INVALID_KERNEL_ARGS: return "CL_INVALID_KERNEL_ARGS";
    case CL_INVALID_WORK_GROUP_SIZE: return "CL_INVALID_WORK_GROUP_SIZE";
    case CL_INVALID_WORK_ITEM_SIZE: return "CL_INVALID_WORK_ITEM_SIZE";
    case CL_INVALID_GLOBAL_WORK_SIZE: return "CL_INVALID_GLOBAL_WORK_SIZE";
    case -1001: return "CL_PLATFORM_NOT_FOUND_KHR";
    default: return "CL error";
    }
}

#define CL_FAIL(e, rc, what) \
    err_set(e, ERR_DEVICE, "%s: %s (%d)", what, cl_errname(rc), (int)(rc))

/* Platforms of the ICD loader; *out malloc'd. 0 or ERR_DEVICE (none) / ERR_NOMEM. */
static int ocl_platforms(cl_platform_id **out, cl_uint *n, struct err *e)
{
    cl_int rc = clGetPlatformIDs(0, NULL, n);
    const char *vendors = getenv("OCL_ICD_VENDORS");

    *out = NULL;
    if (rc != CL_SUCCESS || *n == 0) {
        *n = 0;
        return err_set(e, ERR_DEVICE,
                       "no OpenCL platform found (clGetPlatformIDs: %s; ICD files from %s)",
                       rc != CL_SUCCESS ? cl_errname(rc) : "0 platforms",
                       vendors ? vendors : "/etc/OpenCL/vendors");
    }
    *out = calloc(*n, sizeof **out);
    if (!*out)
        return err_set(e, ERR_NOMEM, "OpenCL platforms: out of memory");
    rc = clGetPlatformIDs(*n, *out, NULL);
    if (rc != CL_SUCCESS) {
        free(*out);
        *out = NULL;
        return CL_FAIL(e, rc, "clGetPlatformIDs");
    }
    return 0;
}

/* Devices of one platform (any type); *out malloc'd, possibly with *n = 0. */
static int ocl_devices(cl_platform_id p, cl_device_id **out, cl_uint *n, struct err *e)
{
    cl_int rc = clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, 0, NULL, n);

    *out = NULL;
    if (rc == CL_DEVICE_NOT_FOUND || (rc == CL_SUCCESS && *n == 0)) {
        *n = 0;
        return 0;
    }
    if (rc != CL_SUCCESS)
        return CL_FAIL(e, rc, "clGetDeviceIDs");
    *out = calloc(*n, sizeof **out);
    if (!*out)
        return err_set(e, ERR_NOMEM, "OpenCL devices: out of memory");
    rc = clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, *n, *out, NULL);
    if (rc != CL_SUCCESS) {
        free(*out);
        *out = NULL;
        return CL_FAIL(e, rc, "clGetDeviceIDs");
    }
    return 0;
}

static void ocl_str(cl_device_id d, cl_platform_id p, cl_uint param, char *buf, size_t len)
{
    size_t need = 0;
    char *tmp = NULL;
    cl_int rc = d ? clGetDeviceInfo(d, param, 0, NULL, &need)
                  : clGetPlatformInfo(p, param, 0, NULL, &need);

    /* Query the size first: a buffer too small is an error, and some strings (PoCL's version)
     * are long; keep what fits. */
    if (rc == CL_SUCCESS && need > 0 && (tmp = malloc(need)) != NULL)
        rc = d ? clGetDeviceInfo(d, param, need, tmp, NULL)
               : clGetPlatformInfo(p, param, need, tmp, NULL);
    if (rc != CL_SUCCESS || !tmp)
        snprintf(buf, len, "?");
    else
        snprintf(buf, len, "%.*s", (int)(need - 1), tmp);
    free(tmp);
    /* Some drivers pad names with spaces. */
    size_t n = strlen(buf);
    while (n > 0 && buf[n - 1] == ' ')
        buf[--n] = '\0';
}

static const char *ocl_type(cl_device_id d)
{
    cl_device_type t = 0;
    clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof t, &t, NULL);
    if (t & CL_DEVICE_TYPE_GPU)
        return "GPU";
    if (t & CL_DEVICE_TYPE_ACCELERATOR)
        return "ACCELERATOR";
    if (t & CL_DEVICE_TYPE_CPU)
        return "CPU";
    return "OTHER";
}

/* Does `name` match selector `sel`? A selector of digits matches index `idx`; anything else is
 * a case-insensitive substring of the name. NULL or "" matches everything. */
static int ocl_match(const char *sel, unsigned idx, const char *name)
{
    if (!sel || !*sel)
        return 1;
    const char *p = sel;
    while (isdigit((unsigned char)*p))
        p++;
    if (!*p)
        return strtoul(sel, NULL, 10) == idx;
    for (const char *h = name; *h; h++) {
        size_t i = 0;
        while (sel[i] && h[i] && tolower((unsigned char)h[i]) == tolower((unsigned char)sel[i]))
            i++;
        if (!sel[i])
            return 1;
    }
    return 0;
}

int mine_cl_devices(struct mine_cl_device **out, size_t *n, struct err *e)
{
    cl_platform_id *plats = NULL;
    cl_uint np = 0;
    struct mine_cl_device *list = NULL;
    size_t cnt = 0;
    int rc;

    *out = NULL;
    *n = 0;
    if ((rc = ocl_platforms(&plats, &np, e)))
        return rc;
    for (cl_uint pi = 0; pi < np; pi++) {
        cl_device_id *devs = NULL;
        cl_uint nd = 0;
        if (ocl_devices(plats[pi], &devs, &nd, NULL) || nd == 0)
            continue;
        struct mine_cl_device *grown = realloc(list, (cnt + nd) * sizeof *list);
        if (!grown) {
            free(devs);
            rc = err_set(e, ERR_NOMEM, "OpenCL devices: out of memory");
            goto cleanup;
        }
        list = grown;
        for (cl_uint di = 0; di < nd; di++) {
            struct mine_cl_device *d = &list[cnt++];
            cl_uint cu = 0;
            size_t wg = 0;
            cl_ulong mem = 0;
            memset(d, 0, sizeof *d);
            d->platform = pi;
            d->index = di;
            ocl_str(NULL, plats[pi], CL_PLATFORM_NAME, d->platform_name, sizeof d->platform_name);
            ocl_str(devs[di], NULL, CL_DEVICE_NAME, d->name, sizeof d->name);
            ocl_str(devs[di], NULL, CL_DEVICE_VERSION, d->version, sizeof d->version);
            snprintf(d->type, sizeof d->type, "%s", ocl_type(devs[di]));
            clGetDeviceInfo(devs[di], CL_DEVICE_MAX_COMPUTE_UNITS, sizeof cu, &cu, NULL);
            clGetDeviceInfo(devs[di], CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof wg, &wg, NULL);
            clGetDeviceInfo(devs[di], CL_DEVICE_GLOBAL_MEM_SIZE, sizeof mem, &mem, NULL);
            d->compute_units = cu;
            d->max_work_group = wg;
            d->global_mem = mem;
        }
        free(devs);
    }
    *out = list;
    *n = cnt;
    list = NULL;
    rc = 0;
cleanup:
    free(list);
    free(plats);
    return rc;
}

int mine_ocl_has_accelerator(const char *platform, const char *device)
{
    cl_platform_id *plats = NULL;
    cl_uint np = 0;
    unsigned global_idx = 0;
    int found = 0;

    if (ocl_platforms(&plats, &np, NULL))
        return 0;
    /* The same selector rules as mine_ocl_new: an index counts every device of the selected
     * platforms in the loader's order (within the platform when one is named). */
    for (cl_uint pi = 0; pi < np && !found; pi++) {
        char pname[96];
        cl_device_id *devs = NULL;
        cl_uint nd = 0;
        ocl_str(NULL, plats[pi], CL_PLATFORM_NAME, pname, sizeof pname);
        if (!ocl_match(platform, pi, pname))
            continue;
        if (ocl_devices(plats[pi], &devs, &nd, NULL))
            continue;
        for (cl_uint di = 0; di < nd && !found; di++, global_idx++) {
            char dname[96];
            ocl_str(devs[di], NULL, CL_DEVICE_NAME, dname, sizeof dname);
            if (ocl_match(device, platform && *platform ? di : global_idx, dname) &&
                strcmp(ocl_type(devs[di]), "CPU") != 0)
                found = 1;
        }
        free(devs);
    }
    free(plats);
    return found;
}

/* Read dir/name whole into a NUL-terminated malloc'd buffer. 0 or ERR_DEVICE / ERR_NOMEM. */
static int ocl_read_source(const char *dir, const char *name, char **text, size_t *len,
                           struct err *e)
{
    char path[4096];
    FILE *f;
    long size;
    int rc = 0;

    *text = NULL;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "rb");
    if (!f)
        return err_set(e, ERR_DEVICE, "cannot read kernel %s: %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
        rc = err_set(e, ERR_DEVICE, "cannot read kernel %s: %s", path, strerror(errno));
        goto cleanup;
    }
    *text = malloc((size_t)size + 1);
    if (!*text) {
        rc = err_set(e, ERR_NOMEM, "kernel %s: out of memory", path);
        goto cleanup;
    }
    if (fread(*text, 1, (size_t)size, f) != (size_t)size) {
        rc = err_set(e, ERR_DEVICE, "cannot read kernel %s: short read", path);
        free(*text);
        *text = NULL;
        goto cleanup;
    }
    (*text)[size] = '\0';
    *len = (size_t)size;
cleanup:
    fclose(f);
    return rc;
}

/* Build the program for one device; on failure the message carries the compiler log. */
static int ocl_build(struct mine_ocl *o, cl_device_id dev, const char *dir, struct err *e)
{
    char opts[64];
    char *src[2] = {NULL, NULL};
    size_t len[2];
    char *log = NULL;
    cl_int crc;
    int rc;

    if ((rc = ocl_read_source(dir, "sha256.cl", &src[0], &len[0], e)) ||
        (rc = ocl_read_source(dir, "sha256d_search.cl", &src[1], &len[1], e)))
        goto cleanup;
    o->prog = clCreateProgramWithSource(o->ctx, 2, (const char **)src, len, &crc);
    if (!o->prog) {
        rc = CL_FAIL(e, crc, "clCreateProgramWithSource");
        goto cleanup;
    }
    snprintf(opts, sizeof opts, "-cl-std=CL1.2 -DVW=%u%s", o->vw,
             o->builtins ? " -DSETM_CL_BUILTINS=1" : "");
    crc = clBuildProgram(o->prog, 1, &dev, opts, NULL, NULL);
    if (crc != CL_SUCCESS) {
        size_t n = 0;
        log = calloc(OCL_LOG_MAX, 1);
        if (log)
            clGetProgramBuildInfo(o->prog, dev, CL_PROGRAM_BUILD_LOG, OCL_LOG_MAX - 1, log, &n);
        /* Keep the log's first lines (the first error) within the message's room. */
        const char *p = log ? log : "";
        while (*p == '\n' || *p == ' ')
            p++;
        rc = err_set(e, ERR_DEVICE, "kernel build failed (%s) in %s/sha256d_search.cl: %s",
                     cl_errname(crc), dir, *p ? p : "(no compiler log)");
        goto cleanup;
    }
    o->kernel = clCreateKernel(o->prog, "sha256d_search", &crc);
    if (!o->kernel)
        rc = CL_FAIL(e, crc, "clCreateKernel(sha256d_search)");
cleanup:
    free(log);
    free(src[0]);
    free(src[1]);
    return rc;
}

/* Nonces per work-item: `want` when the caller forces one, else 1 on GPUs and accelerators
 * (their SIMT hardware already runs work-items in lanes) and the native int vector width on
 * CPU devices, so that a CPU runtime uses all SIMD lanes without an auto-vectoriser. */
static unsigned ocl_vector_width(cl_device_id dev, unsigned want)
{
    cl_device_type type = 0;
    cl_uint native = 1;
    unsigned vw = 1;

    if (want)
        return want;
    clGetDeviceInfo(dev, CL_DEVICE_TYPE, sizeof type, &type, NULL);
    if (!(type & CL_DEVICE_TYPE_CPU))
        return 1;
    clGetDeviceInfo(dev, CL_DEVICE_NATIVE_VECTOR_WIDTH_INT, sizeof native, &native, NULL);
    while (vw * 2 <= native && vw < 16)
        vw *= 2;
    return vw;
}

/* Launch geometry for this device: on GPUs and accelerators a work-group of four times the
 * preferred multiple (at most 256) and launches of 2048 work-groups per compute unit; on CPU
 * devices 2^16 work-items per compute unit and the work-group below. */
static void ocl_geometry(struct mine_ocl *o, cl_device_id dev)
{
    cl_device_type type = 0;
    cl_uint cu = 1;
    size_t kwg = 1, mult = 1;

    clGetDeviceInfo(dev, CL_DEVICE_TYPE, sizeof type, &type, NULL);
    clGetDeviceInfo(dev, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof cu, &cu, NULL);
    clGetKernelWorkGroupInfo(o->kernel, dev, CL_KERNEL_WORK_GROUP_SIZE, sizeof kwg, &kwg, NULL);
    clGetKernelWorkGroupInfo(o->kernel, dev, CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE,
                             sizeof mult, &mult, NULL);
    if (cu == 0)
        cu = 1;
    if (o->calibrated) {
        /* local and iters from ocl_calibrate; only the launch size follows */
    } else if (type & CL_DEVICE_TYPE_CPU) {
        /* With explicit vectors a work-group of one: the runtime then has no work-item loop to
         * vectorise again (PoCL ran this kernel 8x slower with its own choice of local size).
         * Without, the preferred multiple; a fixed size also keeps PoCL from compiling the
         * kernel again for every new launch size. */
        o->local = o->vw > 1 ? 1 : (mult && mult <= kwg ? mult : 1);
    } else {
        size_t l = mult ? mult * 4 : 64;
        while (l > 256 || l > kwg)
            l /= 2;
        o->local = l ? l : 1;
    }
    if (type & CL_DEVICE_TYPE_CPU)
        o->batch_max = (uint64_t)cu << 16; /* ~50 ms at PoCL rates: a stop is seen soon */
    else
        o->batch_max = (uint64_t)cu * o->local * 2048 * o->vw * o->iters;
    if (o->batch_max < OCL_FIRST_BATCH)
        o->batch_max = OCL_FIRST_BATCH;
    if (o->batch_max > (UINT64_C(1) << 30))
        o->batch_max = UINT64_C(1) << 30;
}

/* Work-items of a launch over n nonces: n / (VW * iters) rounded up, then up to a whole number of
 * work-groups (the kernel ignores offsets past n). */
static size_t ocl_global(const struct mine_ocl *o, uint64_t n)
{
    uint64_t per = (uint64_t)o->vw * o->iters;
    size_t global = (size_t)((n + per - 1) / per);

    if (o->local)
        global = (global + o->local - 1) / o->local * o->local;
    return global ? global : (o->local ? o->local : 1);
}

/* Host precomputation of pre[] (see sha256d_search.cl). */
static void ocl_precompute(const struct mine_work *w, cl_uint pre[PRE_LEN])
{
    sha256_u32 a = w->mid[0], b = w->mid[1], c = w->mid[2], d = w->mid[3];
    sha256_u32 e = w->mid[4], f = w->mid[5], g = w->mid[6], h = w->mid[7];
    sha256_u32 w16, w17;

    memset(pre, 0, PRE_LEN * sizeof pre[0]);
    for (int i = 0; i < 8; i++)
        pre[PRE_MID + i] = w->mid[i];
    for (int t = 0; t < 3; t++)
        SHA256_STEP(a, b, c, d, e, f, g, h, sha256_k[t] + w->tail[t]);
    pre[PRE_S3 + 0] = a;
    pre[PRE_S3 + 1] = b;
    pre[PRE_S3 + 2] = c;
    pre[PRE_S3 + 3] = d;
    pre[PRE_S3 + 4] = e;
    pre[PRE_S3 + 5] = f;
    pre[PRE_S3 + 6] = g;
    pre[PRE_S3 + 7] = h;
    /* Round 3 without its message word W3 (the nonce's): e and a after it are E4 and A4 plus W3.
     * Round 4's h (g after round 2) comes with K4 and W4 (the padding bit) already added. */
    {
        sha256_u32 t1 = h + SHA256_BSIG1(e) + SHA256_CH(e, f, g) + sha256_k[3];
        sha256_u32 t2 = SHA256_BSIG0(a) + SHA256_MAJ(a, b, c);
        pre[PRE_E4] = d + t1;
        pre[PRE_A4] = t1 + t2;
        pre[PRE_H4] = g + sha256_k[4] + 0x80000000U;
    }
    /* W16 = s1(W14) + W9 + s0(W1) + W0 and W17 = s1(W15) + W10 + s0(W2) + W1, with W9, W10,
     * W14 zero and W15 = 640; W18 and W19 lack s0(W3) and W3, which the kernel adds. */
    w16 = SHA256_SSIG0(w->tail[1]) + w->tail[0];
    w17 = SHA256_SSIG1(640U) + SHA256_SSIG0(w->tail[2]) + w->tail[1];
    pre[PRE_W16] = w16;
    pre[PRE_W17] = w17;
    pre[PRE_W18] = SHA256_SSIG1(w16) + w->tail[2];
    pre[PRE_W19] = SHA256_SSIG1(w17) + SHA256_SSIG0(0x80000000U);
    pre[PRE_START] = w->start;
    for (int i = 0; i < 8; i++)
        pre[PRE_TARGET + i] = w->target[i];
    for (int i = 0; i < 3; i++)
        pre[PRE_TAIL + i] = w->tail[i];
}

int mine_ocl_search(void *ocl, const struct mine_work *w, uint64_t count, uint64_t *first,
                    struct err *e)
{
    struct mine_ocl *o = ocl;
    cl_uint pre[PRE_LEN];
    uint64_t base = 0, batch = OCL_FIRST_BATCH;
    cl_int rc;

    *first = MINE_NONE;
    ocl_precompute(w, pre);
    rc = clEnqueueWriteBuffer(o->queue, o->pre, CL_TRUE, 0, sizeof pre, pre, 0, NULL, NULL);
    if (rc != CL_SUCCESS)
        return CL_FAIL(e, rc, "clEnqueueWriteBuffer");
    while (base < count) {
        uint64_t n = count - base < batch ? count - base : batch;
        if (mine_work_stopped(w))
            return err_set(e, ERR_INTERRUPTED, "nonce search stopped by a signal");
        cl_uint none = 0xffffffffU, got = 0, cbase = (cl_uint)base, cn = (cl_uint)n;
        size_t global = ocl_global(o, n);

        if ((rc = clEnqueueWriteBuffer(o->queue, o->best, CL_FALSE, 0, sizeof none, &none, 0, NULL,
                                       NULL)) != CL_SUCCESS ||
            (rc = clSetKernelArg(o->kernel, 1, sizeof cbase, &cbase)) != CL_SUCCESS ||
            (rc = clSetKernelArg(o->kernel, 2, sizeof cn, &cn)) != CL_SUCCESS)
            return CL_FAIL(e, rc, "setting up a launch");
        rc = clEnqueueNDRangeKernel(o->queue, o->kernel, 1, NULL, &global,
                                    o->local ? &o->local : NULL, 0, NULL, NULL);
        if (rc != CL_SUCCESS)
            return CL_FAIL(e, rc, "clEnqueueNDRangeKernel");
        rc = clEnqueueReadBuffer(o->queue, o->best, CL_TRUE, 0, sizeof got, &got, 0, NULL, NULL);
        if (rc != CL_SUCCESS)
            return CL_FAIL(e, rc, "clEnqueueReadBuffer");
        if (got != 0xffffffffU) {
            *first = got;
            return 0;
        }
        /* 0xffffffff also means "offset 2^32-1 won"; only the last offset of the whole 2^32
         * range can be that, so ask the reference about it. */
        if (base + n == (UINT64_C(1) << 32)) {
            *first = mine_ref_scan(w, base + n - 1, base + n);
            return 0;
        }
        base += n;
        batch = o->batch_max; /* two launch sizes only: each new size may cost a kernel compile
                                 (PoCL specialises per size), which a stop would wait for */
    }
    return 0;
}

/* One empty launch (n = 0: every work-item returns at once) at the full launch size, so that a
 * runtime that compiles per launch size (PoCL) does it here and not inside a search. */
static int ocl_warm(struct mine_ocl *o, struct err *e)
{
    cl_uint zero = 0;
    size_t global = ocl_global(o, o->batch_max);
    cl_int rc;

    if ((rc = clSetKernelArg(o->kernel, 1, sizeof zero, &zero)) != CL_SUCCESS ||
        (rc = clSetKernelArg(o->kernel, 2, sizeof zero, &zero)) != CL_SUCCESS ||
        (rc = clEnqueueNDRangeKernel(o->queue, o->kernel, 1, NULL, &global,
                                     o->local ? &o->local : NULL, 0, NULL, NULL)) != CL_SUCCESS ||
        (rc = clFinish(o->queue)) != CL_SUCCESS)
        return CL_FAIL(e, rc, "warm-up launch");
    return 0;
}

static double ocl_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One launch over offsets [0, n) at the current local and iters, timed to its end. */
static int ocl_timed(struct mine_ocl *o, uint64_t n, double *sec, struct err *e)
{
    cl_uint zero = 0, cn = (cl_uint)n, it = o->iters;
    size_t global = ocl_global(o, n);
    double t0 = ocl_now();
    cl_int rc;

    if ((rc = clSetKernelArg(o->kernel, 1, sizeof zero, &zero)) != CL_SUCCESS ||
        (rc = clSetKernelArg(o->kernel, 2, sizeof cn, &cn)) != CL_SUCCESS ||
        (rc = clSetKernelArg(o->kernel, 4, sizeof it, &it)) != CL_SUCCESS ||
        (rc = clEnqueueNDRangeKernel(o->queue, o->kernel, 1, NULL, &global,
                                     o->local ? &o->local : NULL, 0, NULL, NULL)) != CL_SUCCESS ||
        (rc = clFinish(o->queue)) != CL_SUCCESS)
        return CL_FAIL(e, rc, "calibration launch");
    *sec = ocl_now() - t0;
    return 0;
}

/* Per-device choice of the work-group size and of the vectors per work-item (`iters`) from a short
 * calibration: the same search (an unreachable target, so every nonce runs to the early-reject
 * test) is timed at each candidate and the fastest nonces per second wins. Candidates: work-groups
 * of 1, 2, 4, 8 and 16 times the kernel's preferred multiple (up to the kernel's maximum and
 * 1024) and 1, 2, 4 or 8 vectors per work-item. The launch is first grown until the default
 * geometry needs 4 ms, so launch overhead does not decide; each work-group size gets one untimed
 * launch first (a runtime may compile per size). Done on GPUs and accelerators; CPU devices keep
 * their measured geometry (PoCL compiles the kernel again per launch shape, which would cost more
 * than any gain) unless SETM_CL_CALIBRATE=1 forces it; SETM_CL_CALIBRATE=0 skips it everywhere.
 * SETM_CL_ITERS=N fixes the vectors per work-item (1..64) and skips the calibration. */
static int ocl_calibrate(struct mine_ocl *o, cl_device_id dev, struct err *e)
{
    static const unsigned iter_cand[] = {1, 2, 4, 8};
    const char *force = getenv("SETM_CL_CALIBRATE");
    const char *fixed = getenv("SETM_CL_ITERS");
    cl_device_type type = 0;
    size_t kwg = 1, mult = 1, locals[5], best_local = o->local;
    unsigned nl = 0, best_iters = 1;
    double best_rate = 0, sec = 0;
    uint64_t n = UINT64_C(1) << 14;
    struct mine_work w;
    cl_uint pre[PRE_LEN];
    cl_int crc;
    int rc;

    o->iters = 1;
    if (fixed && *fixed) {
        unsigned long v = strtoul(fixed, NULL, 10);
        o->iters = v >= 1 && v <= 64 ? (unsigned)v : 1;
        return 0;
    }
    clGetDeviceInfo(dev, CL_DEVICE_TYPE, sizeof type, &type, NULL);
    if (force && *force ? !strcmp(force, "0") : (type & CL_DEVICE_TYPE_CPU) != 0)
        return 0;
    clGetKernelWorkGroupInfo(o->kernel, dev, CL_KERNEL_WORK_GROUP_SIZE, sizeof kwg, &kwg, NULL);
    clGetKernelWorkGroupInfo(o->kernel, dev, CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE,
                             sizeof mult, &mult, NULL);
    if (!mult)
        mult = 1;
    if (type & CL_DEVICE_TYPE_CPU)
        locals[nl++] = o->local; /* PoCL: the vector kernel wants work-groups of one */
    else
        for (size_t l = mult; l <= kwg && l <= 1024 && nl < 5; l *= 2)
            locals[nl++] = l;
    if (!nl)
        return 0;

    memset(&w, 0, sizeof w); /* target 0: no nonce can win */
    ocl_precompute(&w, pre);
    if ((crc = clEnqueueWriteBuffer(o->queue, o->pre, CL_TRUE, 0, sizeof pre, pre, 0, NULL,
                                    NULL)) != CL_SUCCESS)
        return CL_FAIL(e, crc, "calibration: clEnqueueWriteBuffer");
    if ((rc = ocl_timed(o, n, &sec, e)))
        return rc;
    while (n < (UINT64_C(1) << 30)) {
        if ((rc = ocl_timed(o, n, &sec, e)))
            return rc;
        if (sec >= 0.004)
            break;
        n *= 2;
    }
    for (unsigned li = 0; li < nl; li++) {
        o->local = locals[li];
        o->iters = 1;
        if ((rc = ocl_timed(o, n, &sec, e)))
            return rc;
        for (size_t k = 0; k < sizeof iter_cand / sizeof iter_cand[0]; k++) {
            o->iters = iter_cand[k];
            if ((type & CL_DEVICE_TYPE_CPU) && o->iters > 4)
                break;
            if ((rc = ocl_timed(o, n, &sec, e)))
                return rc;
            double rate = (double)n / (sec > 1e-9 ? sec : 1e-9);
            if (rate > best_rate) {
                best_rate = rate;
                best_local = o->local;
                best_iters = o->iters;
            }
        }
    }
    o->local = best_local;
    o->iters = best_iters;
    o->calibrated = 1;
    return 0;
}

/* Set up one device end to end (context .. self-test). 0 or an error; o is left for
 * mine_ocl_free either way. */
static int ocl_setup(struct mine_ocl *o, cl_platform_id plat, cl_device_id dev, const char *dir,
                     unsigned vw, struct err *e)
{
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)plat, 0};
    cl_int crc;
    int rc;

    o->ctx = clCreateContext(props, 1, &dev, NULL, NULL, &crc);
    if (!o->ctx)
        return CL_FAIL(e, crc, "clCreateContext");
    o->queue = clCreateCommandQueue(o->ctx, dev, 0, &crc);
    if (!o->queue)
        return CL_FAIL(e, crc, "clCreateCommandQueue");
    o->vw = ocl_vector_width(dev, vw);
    o->pre = clCreateBuffer(o->ctx, CL_MEM_READ_ONLY, PRE_LEN * sizeof(cl_uint), NULL, &crc);
    if (!o->pre)
        return CL_FAIL(e, crc, "clCreateBuffer");
    o->best = clCreateBuffer(o->ctx, CL_MEM_READ_WRITE, sizeof(cl_uint), NULL, &crc);
    if (!o->best)
        return CL_FAIL(e, crc, "clCreateBuffer");
    /* On GPUs and accelerators first with OpenCL's rotate and bitselect (one funnel shift and
     * one 3-input logic op on NVIDIA); a device whose compiler or answers disagree gets the
     * plain-C kernel instead. CPU devices take the plain one: on PoCL/AVX2 (no vector rotate)
     * the builtins cost 4-10 % (user time over 2^25 nonces, three alternating runs).
     * SETM_CL_BUILTINS=1 or 0 forces the choice (the tests build both on PoCL). */
    {
        const char *b = getenv("SETM_CL_BUILTINS");
        cl_device_type type = 0;
        clGetDeviceInfo(dev, CL_DEVICE_TYPE, sizeof type, &type, NULL);
        o->builtins = b && *b ? strcmp(b, "0") != 0 : !(type & CL_DEVICE_TYPE_CPU);
    }
    for (;;) {
        rc = ocl_build(o, dev, dir, e);
        if (!rc && ((crc = clSetKernelArg(o->kernel, 0, sizeof o->pre, &o->pre)) != CL_SUCCESS ||
                    (crc = clSetKernelArg(o->kernel, 3, sizeof o->best, &o->best)) != CL_SUCCESS))
            rc = CL_FAIL(e, crc, "clSetKernelArg");
        if (!rc) {
            o->calibrated = 0;
            o->iters = 1;
            ocl_geometry(o, dev);
            rc = ocl_calibrate(o, dev, e);
        }
        if (!rc) {
            cl_uint it = o->iters;
            ocl_geometry(o, dev);
            if ((crc = clSetKernelArg(o->kernel, 4, sizeof it, &it)) != CL_SUCCESS)
                rc = CL_FAIL(e, crc, "clSetKernelArg");
        }
        if (!rc)
            rc = mine_selftest(mine_ocl_search, o, e);
        if (!rc)
            rc = ocl_warm(o, e);
        if (!rc || !o->builtins || rc == ERR_NOMEM)
            return rc;
        o->builtins = 0;
        if (o->kernel)
            clReleaseKernel(o->kernel);
        if (o->prog)
            clReleaseProgram(o->prog);
        o->kernel = NULL;
        o->prog = NULL;
        err_clear(e);
    }
}

static void ocl_release(struct mine_ocl *o)
{
    if (o->best)
        clReleaseMemObject(o->best);
    if (o->pre)
        clReleaseMemObject(o->pre);
    if (o->kernel)
        clReleaseKernel(o->kernel);
    if (o->prog)
        clReleaseProgram(o->prog);
    if (o->queue)
        clReleaseCommandQueue(o->queue);
    if (o->ctx)
        clReleaseContext(o->ctx);
    memset(o, 0, sizeof *o);
}

/* Append "; text" to note (bounded). */
static void note_add(char *note, size_t len, const char *text)
{
    size_t n = strlen(note);
    if (n + 1 < len)
        snprintf(note + n, len - n, "%s%s", n ? "; " : "", text);
}

struct mine_ocl *mine_ocl_new(const char *platform, const char *device, const char *kernel_dir,
                              unsigned vw, char *note, size_t note_len, struct err *e)
{
    cl_platform_id *plats = NULL;
    cl_uint np = 0;
    struct mine_ocl *o = NULL;
    const char *dir = kernel_dir;
    unsigned global_idx = 0, matched = 0;
    char last[ERR_MSG_MAX] = "";
    int rc;

    if (!dir || !*dir)
        dir = getenv("SETM_KERNELS");
    if (!dir || !*dir)
        dir = SETM_KERNEL_DIR;
    note[0] = '\0';
    if (ocl_platforms(&plats, &np, e))
        return NULL;
    o = calloc(1, sizeof *o);
    if (!o) {
        err_set(e, ERR_NOMEM, "mine_ocl_new: out of memory");
        goto fail;
    }
    /* Two passes: GPUs and accelerators first, then CPU devices, each in the loader's order. */
    for (int pass = 0; pass < 2; pass++) {
        global_idx = 0;
        for (cl_uint pi = 0; pi < np; pi++) {
            char pname[96];
            cl_device_id *devs = NULL;
            cl_uint nd = 0;

            ocl_str(NULL, plats[pi], CL_PLATFORM_NAME, pname, sizeof pname);
            if (!ocl_match(platform, pi, pname))
                continue;
            if ((rc = ocl_devices(plats[pi], &devs, &nd, e)))
                goto fail;
            for (cl_uint di = 0; di < nd; di++, global_idx++) {
                char dname[96], msg[ERR_MSG_MAX];
                const char *type = ocl_type(devs[di]);
                int is_cpu = !strcmp(type, "CPU");
                cl_uint cu = 0;
                struct err de = {0};

                ocl_str(devs[di], NULL, CL_DEVICE_NAME, dname, sizeof dname);
                /* Within one platform an index selector counts that platform's devices. */
                if (!ocl_match(device, platform && *platform ? di : global_idx, dname))
                    continue;
                if (is_cpu != pass)
                    continue;
                matched++;
                if (ocl_setup(o, plats[pi], devs[di], dir, vw, &de) == 0) {
                    clGetDeviceInfo(devs[di], CL_DEVICE_MAX_COMPUTE_UNITS, sizeof cu, &cu, NULL);
                    snprintf(o->desc, sizeof o->desc,
                             "%.60s: %.60s (%s, %u compute units, %u nonce%s per work-item, "
                             "work-group %zu%s%s)",
                             pname, dname, type, (unsigned)cu, o->vw * o->iters,
                             o->vw * o->iters == 1 ? "" : "s", o->local,
                             o->calibrated ? " calibrated" : "",
                             o->builtins ? ", rotate/bitselect" : "");
                    free(devs);
                    free(plats);
                    return o;
                }
                ocl_release(o);
                if (de.code == ERR_NOMEM) {
                    if (e)
                        *e = de;
                    free(devs);
                    goto fail;
                }
                snprintf(msg, sizeof msg, "%s: %.400s", dname, de.msg);
                note_add(note, note_len, msg);
                snprintf(last, sizeof last, "%s", msg);
            }
            free(devs);
        }
    }
    if (!matched)
        err_set(e, ERR_DEVICE, "no OpenCL device matches platform '%s' device '%s'",
                platform && *platform ? platform : "any", device && *device ? device : "any");
    else
        err_set(e, ERR_DEVICE, "no usable OpenCL device: %s", last);
fail:
    free(o);
    free(plats);
    return NULL;
}

void mine_ocl_free(struct mine_ocl *o)
{
    if (!o)
        return;
    ocl_release(o);
    free(o);
}

const char *mine_ocl_desc(const struct mine_ocl *o)
{
    return o->desc;
}

static const char *ocl_ops_name(const void *o)
{
    (void)o;
    return "opencl";
}

static const char *ocl_ops_desc(const void *o)
{
    return mine_ocl_desc(o);
}

static unsigned ocl_ops_threads(const void *o)
{
    (void)o;
    return 1;
}

static void ocl_ops_free(void *o)
{
    mine_ocl_free(o);
}

const struct mine_backend_ops mine_ocl_ops = {
    "opencl", "one OpenCL device, ascending launches, lowest offset by atomic_min",
    mine_ocl_search, ocl_ops_name, ocl_ops_desc, ocl_ops_threads, ocl_ops_free};
