/*
 * mine — the proof-of-work nonce search, behind one backend-neutral interface.
 *
 * A search takes an 80-byte header (mine/pow.h layout), a 256-bit target and a nonce range, and
 * returns the FIRST nonce of the range whose SHA-256d meets the target. The range is the
 * `count` nonces start, start+1, ... taken modulo 2^32 (so it may wrap past 0xffffffff to 0);
 * "first" means smallest offset from start, which is the smallest nonce whenever the range does
 * not wrap. Every backend (OpenCL, CPU portable, CPU SHA-NI, any thread count) returns the same
 * nonce, hash and attempts for the same input: that is what makes runs reproducible.
 *
 * attempts: the number of nonces of the range up to and including the winner (winner offset + 1),
 * or `count` when no nonce in the range meets the target. It is a property of the range, not of
 * how much hashing a backend actually did (backends overshoot in parallel and that is not counted).
 *
 * Backends: "opencl" (kernels/sha256d_search.cl on one OpenCL device) and "cpu" (threads over a
 * portable C path or an x86 SHA-NI path, chosen by CPU feature detection). Every backend and path
 * is known-answer-checked when mine_new() builds it and is not used if the answer is wrong.
 *
 * Ownership: mine_new returns an object the caller frees with mine_free; strings returned by the
 * accessors belong to the object and live until mine_free. Option strings are copied.
 * A `struct mine` must not be used by two threads at once (it owns device queues and buffers).
 */
#ifndef SETM_MINE_MINE_H
#define SETM_MINE_MINE_H

#include <signal.h>
#include <stdint.h>

#include "core/err.h"
#include "mine/pow.h"

/* Extended search space (mine_search_rolled): the header time may be rolled forward by up to
 * MINE_ROLL_MAX - 1 seconds, as Bitcoin miners do (a block may carry a time up to two hours
 * ahead), each roll giving a fresh 2^32 nonces. */
#define MINE_ROLL_MAX 7200U
#define MINE_SEARCH_MAX ((uint64_t)MINE_ROLL_MAX << 32) /* (roll, nonce) pairs at most */
#define MINE_PROBE_S_DEFAULT 0.5 /* see mine_opts.probe_s */

enum mine_backend {
    MINE_BACKEND_AUTO = 0, /* the CPU backend, and once the searches would keep the CPU busy
                              for opts.probe_s seconds the first OpenCL device (GPUs and
                              accelerators first, then CPU devices such as PoCL) that passes its
                              self-test beside it; each search then goes to the one expected to
                              finish first (from the search's expected size and both backends'
                              rates, measured when built). No usable OpenCL: the CPU alone */
    MINE_BACKEND_OPENCL,   /* OpenCL only: ERR_DEVICE when no selected device is usable */
    MINE_BACKEND_CPU       /* the CPU backend only */
};

enum mine_cpu_path {
    MINE_CPU_PATH_AUTO = 0, /* SHA-NI when the CPU has it and it passes the self-test, else portable */
    MINE_CPU_PATH_PORTABLE, /* the shared C code of kernels/sha256.cl */
    MINE_CPU_PATH_SHANI     /* x86 SHA extensions; ERR_DEVICE where the CPU lacks them */
};

/* Choices for mine_new. Initialise with mine_opts_init, then set what you need. */
struct mine_opts {
    enum mine_backend backend;
    unsigned threads;        /* CPU worker threads; 0 = every online core */
    enum mine_cpu_path cpu_path;
    const char *platform;    /* OpenCL platform: decimal index or name substring (case-insensitive);
                                NULL or "" = every platform */
    const char *device;      /* OpenCL device: decimal index (within the selected platforms, in
                                enumeration order) or name substring; NULL or "" = the first usable */
    const char *kernel_dir;  /* directory of the .cl files; NULL = $SETM_KERNELS, else the build's
                                SETM_KERNEL_DIR */
    unsigned cl_vector;      /* OpenCL nonces per work-item, 1/2/4/8/16; 0 = per device (1 on
                                GPUs, the native int vector width on CPU devices) */
    const volatile sig_atomic_t *stop; /* raised (non-zero) = searches end with ERR_INTERRUPTED
                                within a fraction of a second; NULL = never */
    void (*notice)(void *ctx, const char *msg); /* long searches announce their expected time
                                here (mine_search_rolled); NULL = silent */
    void *notice_ctx;
    double probe_s;          /* auto: probe OpenCL only once the CPU was expected to spend this
                                many seconds searching (the probe costs about that much: context,
                                kernel build, self-test); 0 = at mine_new; < 0 (the default) =
                                $SETM_AUTO_PROBE_S, else MINE_PROBE_S_DEFAULT */
    double expected_nonces;  /* auto: the nonces the caller expects to search in all (e.g. blocks
                                x 2^difficulty_bits), 0 = unknown; when the CPU would need more
                                than probe_s for them, OpenCL is probed at mine_new */
};

/* The result of a search. */
struct mine_result {
    int found;                           /* 1 when a nonce in the range meets the target */
    uint32_t nonce;                      /* the winner (valid when found) */
    unsigned char hash[MINE_HASH_LEN];   /* its SHA-256d, internal byte order (valid when found) */
    uint64_t attempts;                   /* see the definition at the top of this file */
    uint32_t roll;                       /* mine_search_rolled: seconds added to the header time */
};

struct mine;

/* Defaults: backend auto, all cores, CPU path auto, first usable device, kernels from the
 * environment or the build. */
void mine_opts_init(struct mine_opts *o);

/* Parse "auto" | "opencl" | "cpu" and "auto" | "portable" | "sha-ni". 0 or ERR_USAGE. */
int mine_backend_parse(const char *s, enum mine_backend *out, struct err *e);
int mine_cpu_path_parse(const char *s, enum mine_cpu_path *out, struct err *e);

/* Build the backend the options ask for: probe devices, build and self-test the kernel, detect
 * CPU features. Returns the object, or NULL with e set: ERR_USAGE for a bad option value,
 * ERR_DEVICE when an explicitly requested backend or path is unusable (the message says why:
 * no platform, no matching device, kernel file missing, build failure with the compiler log,
 * wrong self-test answer), ERR_NOMEM. With backend auto an unusable OpenCL is not an error: the
 * CPU backend is used and mine_note() says why.  Test hook: with SETM_FAULT_OPENCL_AFTER=N in
 * the environment the OpenCL backend reports a device error from its (N+1)-th search on. */
struct mine *mine_new(const struct mine_opts *o, struct err *e);

/* Release everything mine_new acquired. NULL is a no-op. */
void mine_free(struct mine *m);

/* Search count nonces from start (1 <= count <= 2^32; see the range definition above).
 * Fills *res in every case. Returns 0 when found, ERR_NOSOLUTION when no nonce in the range
 * meets the target (res->found = 0, res->attempts = count), ERR_USAGE for a count out of range,
 * ERR_INTERRUPTED when opts.stop was raised (res->found = 0),
 * ERR_DEVICE when the device fails or returns a nonce the host does not confirm.  With backend
 * auto such a device error is not returned: the CPU backend takes over for this and every later
 * search (the same lowest nonce, so the same chain) and mine_note() says so. */
int mine_search(struct mine *m, const unsigned char header[MINE_HEADER_LEN],
                const unsigned char target[MINE_TARGET_LEN], uint32_t start, uint64_t count,
                struct mine_result *res, struct err *e);

/* Search in (roll, nonce) order: offset o (0 <= o < count <= MINE_SEARCH_MAX) stands for the
 * header with time + o / 2^32 and nonce start + o mod 2^32; the answer is the smallest offset
 * meeting the target, so every backend yields the same (roll, nonce). For count <= 2^32 this is
 * mine_search. On success header's time and nonce fields are set to the winner and res->roll
 * says how far the time moved; attempts counts offsets up to the winner. With opts.notice set,
 * a search expected to take more than 5 seconds says first how long it is expected to take.
 * Returns as mine_search; ERR_USAGE for count out of 1..MINE_SEARCH_MAX (MINE_ROLL_MAX x
 * mine_roll_span(m) under the test hook). */
int mine_search_rolled(struct mine *m, unsigned char header[MINE_HEADER_LEN],
                       const unsigned char target[MINE_TARGET_LEN], uint32_t start,
                       uint64_t count, struct mine_result *res, struct err *e);

/* mine_search_rolled without the expected-time notice: for the many searches of a run (the
 * chain's block race), where one note per search would flood the terminal. */
int mine_search_rolled_quiet(struct mine *m, unsigned char header[MINE_HEADER_LEN],
                             const unsigned char target[MINE_TARGET_LEN], uint32_t start,
                             uint64_t count, struct mine_result *res, struct err *e);

/* Nonces per time roll of this object's rolled searches: 2^32 (the whole nonce field, as Bitcoin
 * miners roll), unless the test hook SETM_TEST_ROLL_SPAN=N (1..2^32) sets N, so that tests can
 * run the (roll, nonce) order with a few hashes: offset o is then time + o / N with nonce
 * (start + o mod N) mod 2^32, and a search holds at most MINE_ROLL_MAX x N offsets. A block's
 * attempts (chain.c, race_start) are then roll x N + ((nonce - start) mod 2^32) + 1. */
uint64_t mine_roll_span(const struct mine *m);

/* The span the environment asks for (2^32 when SETM_TEST_ROLL_SPAN is unset or empty): 0, or
 * ERR_USAGE naming the variable when its value is not a whole number in 1..2^32. mine_new and
 * `setm verify` read it the same way. */
int mine_roll_span_env(uint64_t *span, struct err *e);

/* Nonces per second of a large search on this object (the fastest backend it holds), measured
 * once by timing short searches; 0 when the measurement failed. */
double mine_rate(struct mine *m);

/* Expected seconds to find a nonce meeting target (2^256 / (target + 1) nonces at mine_rate). */
double mine_expected_seconds(struct mine *m, const unsigned char target[MINE_TARGET_LEN]);

/* A ready-made opts.notice: writes "setm: note: MSG" to stderr. */
void mine_notice_stderr(void *ctx, const char *msg);

/* Searches each backend ran so far (auto holds two): *cpu on the CPU, *device on OpenCL. */
void mine_search_counts(const struct mine *m, uint64_t *cpu, uint64_t *device);

/* Name of the backend of the most recent search (before any search, the one auto prefers for
 * large searches): "opencl", "cpu-sha-ni" or "cpu-portable". */
const char *mine_backend_name(const struct mine *m);

/* One line describing the device: OpenCL platform and device names, or CPU model, thread
 * count and path (auto with both: the two, "+"-joined). For HDF5 attributes and run output. */
const char *mine_device_desc(const struct mine *m);

/* Why auto did not take OpenCL, or why it left it mid-run ("" when neither happened). */
const char *mine_note(const struct mine *m);

/* CPU worker threads of the most recent search's backend (1 for OpenCL's host side). */
unsigned mine_threads(const struct mine *m);

/* One OpenCL device as `setm devices` lists it. */
struct mine_cl_device {
    unsigned platform;       /* platform index, in the ICD loader's order */
    unsigned index;          /* device index within that platform */
    char platform_name[96];  /* CL_PLATFORM_NAME */
    char name[96];           /* CL_DEVICE_NAME */
    char type[16];           /* "GPU", "CPU", "ACCELERATOR" or "OTHER" */
    char version[160];       /* CL_DEVICE_VERSION */
    unsigned compute_units;  /* CL_DEVICE_MAX_COMPUTE_UNITS */
    size_t max_work_group;   /* CL_DEVICE_MAX_WORK_GROUP_SIZE */
    uint64_t global_mem;     /* CL_DEVICE_GLOBAL_MEM_SIZE, bytes */
};

/* Every OpenCL device of every platform. On success *out is a malloc'd array of *n entries the
 * caller frees with free() (NULL when *n is 0). Returns 0, ERR_DEVICE when the ICD loader finds
 * no platform (message says so, *n = 0), ERR_NOMEM. */
int mine_cl_devices(struct mine_cl_device **out, size_t *n, struct err *e);

/* Does this CPU (and build) have the SHA-NI path? 1 or 0. */
int mine_cpu_has_shani(void);

#endif
