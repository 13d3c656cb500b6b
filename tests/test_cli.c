/* test_cli — the setm binary end to end: exit codes 0/1/2, usage, run output, bench. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spawn.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <signal.h>
#include <time.h>
#include <sys/resource.h>
#include <cmocka.h>
#include <hdf5.h>

#include "cli_harness.h"

static int setup(void **state) { return tu_fx_setup(state, "cli"); }
static int teardown(void **state) { return tu_fx_teardown(state); }

static char *put(struct tu_fx *f, const char *name, const char *text)
{
    static char path[256];
    assert_int_equal(tu_put(f->dir, name, text, path, sizeof path), 0);
    return path;
}

static const char small[] = "[scenario]\nname = small\nseed = 5\n[sim]\ndays = 0.5\n"
                            "[mine]\nbackend = cpu\n[chain]\ndifficulty_bits = 8\n"
                            "[agent.house]\ncount = 3\n[agent.plant]\ntype = solar_system\n"
                            "min_bid = 40\nmax_bid = 52\n";

static void test_cli_no_arguments_is_usage_error(void **state)
{
    struct tu_fx *f = *state;
    assert_int_equal(tu_run(f, NULL), 2);
    assert_non_null(strstr(f->errtxt, "usage: setm"));
}

static void test_cli_help_and_version(void **state)
{
    struct tu_fx *f = *state;
    assert_int_equal(tu_run(f, "--help", NULL), 0);
    assert_non_null(strstr(f->out, "run"));
    assert_non_null(strstr(f->out, "exit codes"));
    assert_int_equal(tu_run(f, "--version", NULL), 0);
    assert_non_null(strstr(f->out, "setm " SETM_VERSION));
}

static void test_cli_every_subcommand_has_help(void **state)
{
    struct tu_fx *f = *state;
    const char *cmds[] = {"run", "sweep", "verify", "mine", "bench", "devices"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        if (tu_run(f, cmds[i], "--help", NULL) != 0)
            fail_msg("setm %s --help did not exit 0: %s", cmds[i], f->errtxt);
        assert_non_null(strstr(f->out, "usage"));
    }
}

static void test_cli_unknown_command_is_usage_error(void **state)
{
    struct tu_fx *f = *state;
    assert_int_equal(tu_run(f, "frobnicate", NULL), 2);
    assert_non_null(strstr(f->errtxt, "unknown command 'frobnicate'"));
}

static void test_cli_run_unknown_flag_is_usage_error(void **state)
{
    struct tu_fx *f = *state;
    char *p = put(f, "s.ini", small);
    assert_int_equal(tu_run(f, "run", p, "--frob", NULL), 2);
    assert_non_null(strstr(f->errtxt, "--frob"));
    assert_non_null(strstr(f->errtxt, "usage: setm run"));
    assert_int_equal(tu_run(f, "run", NULL), 2);
    assert_non_null(strstr(f->errtxt, "missing SCENARIO"));
    assert_int_equal(tu_run(f, "run", p, p, NULL), 2);
    assert_int_equal(tu_run(f, "run", p, "-o", NULL), 2);
}

static void test_cli_run_writes_output_and_summary(void **state)
{
    struct tu_fx *f = *state;
    char out[256];
    hid_t file, d, s;
    hsize_t dims[1];
    char *p = put(f, "s.ini", small);
    snprintf(out, sizeof out, "%s/run.h5", f->dir);
    assert_int_equal(tu_run(f, "run", p, "-o", out, NULL), 0);
    assert_non_null(strstr(f->out, "4 agents"));
    assert_non_null(strstr(f->out, "48 slots"));
    assert_non_null(strstr(f->out, out));
    file = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(file >= 0);
    d = H5Dopen2(file, "agents/id", H5P_DEFAULT);
    s = H5Dget_space(d);
    H5Sget_simple_extent_dims(s, dims, NULL);
    assert_int_equal(dims[0], 4);
    H5Sclose(s);
    H5Dclose(d);
    d = H5Dopen2(file, "slots/slot", H5P_DEFAULT);
    s = H5Dget_space(d);
    H5Sget_simple_extent_dims(s, dims, NULL);
    assert_int_equal(dims[0], 48);
    H5Sclose(s);
    H5Dclose(d);
    H5Fclose(file);
}

static void test_cli_run_set_and_quiet(void **state)
{
    struct tu_fx *f = *state;
    char out[256];
    char *p = put(f, "s.ini", small);
    snprintf(out, sizeof out, "%s/q.h5", f->dir);
    assert_int_equal(tu_run(f, "run", p, "-q", "--set", "sim.days=1", "-s", "agent.house.count=10",
                         "-o", out, NULL),
                     0);
    assert_string_equal(f->out, "");
    assert_int_equal(tu_run(f, "run", p, "--set", "sim.days=1", "--set", "agent.house.count=10",
                         "-o", out, NULL),
                     0);
    assert_non_null(strstr(f->out, "11 agents, 96 slots"));
}

static void test_cli_run_bad_config_exit_2_names_place(void **state)
{
    struct tu_fx *f = *state;
    char out[256];
    char *p = put(f, "bad.ini", "[market]\nslot_minutes = 0\n");
    snprintf(out, sizeof out, "%s/never.h5", f->dir);
    assert_int_equal(tu_run(f, "run", p, "-o", out, NULL), 2);
    assert_non_null(strstr(f->errtxt, "bad.ini:2: [market] slot_minutes = '0': out of range"));
    assert_int_equal(access(out, F_OK), -1);
    p = put(f, "s.ini", small);
    assert_int_equal(tu_run(f, "run", p, "--set", "market.nope=1", "-o", out, NULL), 2);
    assert_non_null(strstr(f->errtxt, "unknown key 'nope'"));
    assert_int_equal(tu_run(f, "run", p, "--backend", "gpu", "-o", out, NULL), 2);
    assert_non_null(strstr(f->errtxt, "--backend gpu"));
    assert_int_equal(access(out, F_OK), -1);
}

static void test_cli_run_missing_scenario_exit_2(void **state)
{
    struct tu_fx *f = *state;
    assert_int_equal(tu_run(f, "run", "/nonexistent/scenario.ini", NULL), 2);
    assert_non_null(strstr(f->errtxt, "/nonexistent/scenario.ini"));
}

static void test_cli_run_unwritable_output_exit_1(void **state)
{
    struct tu_fx *f = *state;
    char *p = put(f, "s.ini", small);
    assert_int_equal(tu_run(f, "run", p, "-o", "/nonexistent-dir/out.h5", NULL), 1);
    assert_non_null(strstr(f->errtxt, "/nonexistent-dir/out.h5"));
}

static void test_cli_run_is_reproducible(void **state)
{
    struct tu_fx *f = *state;
    char a[256], b[256];
    char *p = put(f, "s.ini", small);
    hid_t fa, fb, aa, ab, t;
    char *sa = NULL, *sb = NULL;
    snprintf(a, sizeof a, "%s/a.h5", f->dir);
    snprintf(b, sizeof b, "%s/b.h5", f->dir);
    assert_int_equal(tu_run(f, "run", p, "-q", "-o", a, NULL), 0);
    assert_int_equal(tu_run(f, "run", p, "-q", "-o", b, NULL), 0);
    fa = H5Fopen(a, H5F_ACC_RDONLY, H5P_DEFAULT);
    fb = H5Fopen(b, H5F_ACC_RDONLY, H5P_DEFAULT);
    aa = H5Aopen(fa, "scenario", H5P_DEFAULT);
    ab = H5Aopen(fb, "scenario", H5P_DEFAULT);
    t = H5Aget_type(aa);
    assert_true(H5Aread(aa, t, &sa) >= 0);
    assert_true(H5Aread(ab, t, &sb) >= 0);
    assert_string_equal(sa, sb);
    assert_non_null(strstr(sa, "[agent.plant]"));
    assert_non_null(strstr(sa, "seed = 5"));
    H5free_memory(sa);
    H5free_memory(sb);
    H5Tclose(t);
    H5Aclose(aa);
    H5Aclose(ab);
    H5Fclose(fa);
    H5Fclose(fb);
}

/* SIGINT or SIGTERM mid-run: exit 1 promptly, partial output flushed and marked complete = 0. */
static void test_cli_run_signal_keeps_partial_output(void **state)
{
    struct tu_fx *f = *state;
    const int sigs[] = {SIGINT, SIGTERM};
    for (int k = 0; k < 2; k++) {
        char out[256], errp[128], *argv[12];
        posix_spawn_file_actions_t fa;
        pid_t pid;
        int status;
        int64_t complete = -1;
        hid_t file, a;
        /* forecast_days = 1: the history is drawn at once, so the signal lands in the slots
         * (a stop while the history is drawn leaves no file: nothing was simulated yet) */
        char *p = put(f, "long.ini", "[scenario]\nseed = 2\n[sim]\ndays = 3650\n"
                                     "[mine]\nbackend = cpu\n[type.home_solar]\nforecast_days = 1\n"
                                     "[population]\ncount = 300\nhome_solar = 1\n");
        snprintf(out, sizeof out, "%s/partial%d.h5", f->dir, k);
        snprintf(errp, sizeof errp, "%s/stderr", f->dir);
        argv[0] = (char *)tu_setm_bin(), argv[1] = "run", argv[2] = p, argv[3] = "-o", argv[4] = out;
        argv[5] = NULL;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 2, errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        assert_int_equal(posix_spawn(&pid, argv[0], &fa, NULL, argv, environ), 0);
        posix_spawn_file_actions_destroy(&fa);
        usleep(1500 * 1000); /* well into the run (ten years would take minutes) */
        kill(pid, sigs[k]);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 1);
        tu_slurp(errp, f->errtxt, sizeof f->errtxt);
        assert_non_null(strstr(f->errtxt, "complete = 0"));
        file = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
        assert_true(file >= 0);
        a = H5Aopen(file, "complete", H5P_DEFAULT);
        assert_true(H5Aread(a, H5T_NATIVE_INT64, &complete) >= 0);
        assert_int_equal(complete, 0);
        H5Aclose(a);
        H5Fclose(file);
    }
}

/* SIGINT while a long nonce search runs (the genesis block at 30 zero bits on one CPU thread:
 * about 2^30 hashes, minutes): the search sees the stop, setm exits 1 within a second saying
 * it was stopped, and, nothing having been simulated yet, leaves no file under OUT. */
static void test_cli_run_signal_stops_nonce_search_within_a_second(void **state)
{
    struct tu_fx *f = *state;
    char out[256], errp[128], *argv[8];
    posix_spawn_file_actions_t fa;
    struct timespec t0, t1;
    pid_t pid;
    int status;
    char *p = put(f, "hard.ini", "[scenario]\nseed = 2\n[sim]\ndays = 1\n"
                                 "[mine]\nbackend = cpu\nthreads = 1\n"
                                 "[chain]\ndifficulty_bits = 30\n"
                                 "[agent.house]\ncount = 2\n");
    snprintf(out, sizeof out, "%s/hard.h5", f->dir);
    snprintf(errp, sizeof errp, "%s/stderr", f->dir);
    argv[0] = (char *)tu_setm_bin(), argv[1] = "run", argv[2] = p, argv[3] = "-o", argv[4] = out;
    argv[5] = NULL;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    assert_int_equal(posix_spawn(&pid, argv[0], &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    usleep(1500 * 1000); /* set-up done, deep in the genesis search */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    kill(pid, SIGINT);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 1);
    double dt = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    if (dt > 1.0)
        fail_msg("setm took %.2f s to stop", dt);
    tu_slurp(errp, f->errtxt, sizeof f->errtxt);
    assert_non_null(strstr(f->errtxt, "genesis"));
    assert_non_null(strstr(f->errtxt, "stopped by a signal"));
    assert_int_equal(access(out, F_OK), -1);
}

/* chain.difficulty_bits above 40 cannot be expected to finish even with 7200 time rolls of
 * 2^32 nonces: refused before any work (exit 2, naming the key); 33 is accepted (the header
 * time rolls) and its expected search time is announced when long. */
static void test_cli_run_difficulty_beyond_roll_space_refused(void **state)
{
    struct tu_fx *f = *state;
    char out[256];
    char *p = put(f, "d41.ini", "[scenario]\nseed = 2\n[chain]\ndifficulty_bits = 41\n"
                                "[agent.house]\ncount = 2\n");
    snprintf(out, sizeof out, "%s/d41.h5", f->dir);
    assert_int_equal(tu_run(f, "run", p, "-o", out, NULL), 2);
    assert_non_null(strstr(f->errtxt, "difficulty_bits"));
    assert_non_null(strstr(f->errtxt, "[1, 40]"));
    assert_int_equal(access(out, F_OK), -1);
}

/* A full disk (the file-size limit stands in for it: writes past it fail with EFBIG): a clear
 * error, exit 1, and nothing under the final name, temporary file removed. */
static void test_cli_run_disk_full_exit_1_no_file(void **state)
{
    struct tu_fx *f = *state;
    char out[256], errp[128];
    char *p = put(f, "big.ini", "[scenario]\nseed = 2\n[sim]\ndays = 2\n[output]\n"
                                "agent_slots = true\ncompression = 0\n"
                                "[mine]\nbackend = cpu\n"
                                "[population]\ncount = 400\nhome_solar = 1\n");
    pid_t pid;
    int status;
    snprintf(out, sizeof out, "%s/full.h5", f->dir);
    snprintf(errp, sizeof errp, "%s/stderr", f->dir);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit rl = {256 * 1024, 256 * 1024};
        int fd = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || dup2(fd, 2) < 0 || setrlimit(RLIMIT_FSIZE, &rl) != 0)
            _exit(99);
        /* The default action, as a shell leaves it: setm itself must ignore SIGXFSZ to turn
         * the limit into a clear error instead of dying with everything unsaved. */
        signal(SIGXFSZ, SIG_DFL);
        execl(tu_setm_bin(), tu_setm_bin(), "run", p, "-q", "-o", out, (char *)NULL);
        _exit(98);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 1);
    tu_slurp(errp, f->errtxt, sizeof f->errtxt);
    assert_non_null(strstr(f->errtxt, out));
    assert_non_null(strstr(f->errtxt, "File too large")); /* the system's reason, EFBIG */
    assert_int_equal(access(out, F_OK), -1);
    {
        char tmp[300];
        snprintf(tmp, sizeof tmp, "ls %s | grep -q tmp", f->dir);
        assert_int_not_equal(system(tmp), 0); /* no temporary file left behind */
    }
}

static char *tip_of(const char *path, char *buf, size_t n)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), a, t;
    char *v = NULL;
    assert_true(f >= 0);
    a = H5Aopen(f, "chain_tip", H5P_DEFAULT);
    t = H5Aget_type(a);
    assert_true(H5Aread(a, t, &v) >= 0);
    snprintf(buf, n, "%s", v);
    H5free_memory(v);
    H5Tclose(t);
    H5Aclose(a);
    H5Fclose(f);
    return buf;
}

static int count_lines_with(const char *text, const char *what)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, what)) != NULL; p++)
        n++;
    return n;
}

/* OpenCL faults under backend auto: no platform, a kernel that does not build, a device error
 * mid-run.  Each run falls back to the CPU with one warning and mines the identical chain. */
static void test_cli_run_opencl_faults_fall_back_to_cpu(void **state)
{
    struct tu_fx *f = *state;
    char ref[256], out[256], tip_ref[80], tip[80], kdir[128], kfile[192];
    char *p = put(f, "s.ini", small);
    FILE *fp;
    snprintf(ref, sizeof ref, "%s/cpu.h5", f->dir);
    snprintf(out, sizeof out, "%s/fault.h5", f->dir);
    assert_int_equal(tu_run(f, "run", p, "-q", "-o", ref, NULL), 0); /* small uses backend cpu */
    tip_of(ref, tip_ref, sizeof tip_ref);

    setenv("SETM_AUTO_PROBE_S", "0", 1); /* auto probes the device at start, not on demand */
    setenv("OCL_ICD_VENDORS", f->dir, 1); /* a folder with no ICD files */
    assert_int_equal(tu_run(f, "run", p, "--backend", "auto", "-o", out, NULL), 0);
    unsetenv("OCL_ICD_VENDORS");
    assert_int_equal(count_lines_with(f->errtxt, "warning:"), 1);
    assert_non_null(strstr(f->errtxt, "OpenCL not used"));
    assert_string_equal(tip_of(out, tip, sizeof tip), tip_ref);

    snprintf(kdir, sizeof kdir, "%s/kernels", f->dir);
    assert_int_equal(mkdir(kdir, 0755), 0);
    snprintf(kfile, sizeof kfile, "%s/sha256d_search.cl", kdir);
    fp = fopen(kfile, "w");
    fputs("__kernel void broken(void) { this does not compile }\n", fp);
    fclose(fp);
    snprintf(kfile, sizeof kfile, "%s/sha256.cl", kdir);
    fp = fopen(kfile, "w");
    fputs("#error broken\n", fp);
    fclose(fp);
    setenv("SETM_KERNELS", kdir, 1);
    assert_int_equal(tu_run(f, "run", p, "--backend", "auto", "-o", out, NULL), 0);
    unsetenv("SETM_KERNELS");
    assert_int_equal(count_lines_with(f->errtxt, "warning:"), 1);
    assert_string_equal(tip_of(out, tip, sizeof tip), tip_ref);

    setenv("SETM_FAULT_OPENCL_AFTER", "20", 1);
    assert_int_equal(tu_run(f, "run", p, "--backend", "auto", "-o", out, NULL), 0);
    unsetenv("SETM_FAULT_OPENCL_AFTER");
    assert_int_equal(count_lines_with(f->errtxt, "warning:"), 1);
    assert_non_null(strstr(f->errtxt, "failed during the run"));
    assert_string_equal(tip_of(out, tip, sizeof tip), tip_ref);

    /* Asked for explicitly, an unusable OpenCL is an error, not a silent fallback. */
    setenv("OCL_ICD_VENDORS", f->dir, 1);
    assert_int_equal(tu_run(f, "run", p, "--backend", "opencl", "-o", out, NULL), 2);
    unsetenv("OCL_ICD_VENDORS");
    unsetenv("SETM_AUTO_PROBE_S");
}

static void test_cli_bench_engine(void **state)
{
    struct tu_fx *f = *state;
    assert_int_equal(tu_run(f, "bench", "engine", "--lps", "100", "--events", "20000", NULL), 0);
    assert_non_null(strstr(f->out, "events/s"));
    assert_non_null(strstr(f->out, "20000 events"));
    assert_int_equal(tu_run(f, "bench", "engine", "--lps", "0", NULL), 2);
    assert_int_equal(tu_run(f, "bench", "engine", "--events", "many", NULL), 2);
    assert_int_equal(tu_run(f, "bench", "engine", "--nope", NULL), 2);
    assert_int_equal(tu_run(f, "bench", "nothing", NULL), 2);
    assert_int_equal(tu_run(f, "bench", NULL), 2);
}

/* Every bench with options answers --help on stdout (exit 0), and names an unknown option or a
 * stray argument before any work (exit 2). */
static void test_cli_bench_options_help_and_strays(void **state)
{
    struct tu_fx *f = *state;
    const char *benches[] = {"scale", "engine", "agents"};
    for (size_t i = 0; i < sizeof benches / sizeof benches[0]; i++) {
        assert_int_equal(tu_run(f, "bench", benches[i], "--help", NULL), 0);
        assert_non_null(strstr(f->out, "usage: setm bench"));
        assert_int_equal(tu_run(f, "bench", benches[i], "--bogus", NULL), 2);
        assert_non_null(strstr(f->errtxt, "unknown option '--bogus'"));
        assert_int_equal(tu_run(f, "bench", benches[i], "stray", NULL), 2);
        assert_non_null(strstr(f->errtxt, "unexpected argument 'stray'"));
        assert_null(strstr(f->out, "wall"));
    }
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_cli_no_arguments_is_usage_error),
        T(test_cli_help_and_version),
        T(test_cli_every_subcommand_has_help),
        T(test_cli_unknown_command_is_usage_error),
        T(test_cli_run_unknown_flag_is_usage_error),
        T(test_cli_run_writes_output_and_summary),
        T(test_cli_run_set_and_quiet),
        T(test_cli_run_bad_config_exit_2_names_place),
        T(test_cli_run_missing_scenario_exit_2),
        T(test_cli_run_unwritable_output_exit_1),
        T(test_cli_run_is_reproducible),
        T(test_cli_run_signal_keeps_partial_output),
        T(test_cli_run_disk_full_exit_1_no_file),
        T(test_cli_run_opencl_faults_fall_back_to_cpu),
        T(test_cli_run_signal_stops_nonce_search_within_a_second),
        T(test_cli_run_difficulty_beyond_roll_space_refused),
        T(test_cli_bench_engine),
        T(test_cli_bench_options_help_and_strays),
    };
    return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
