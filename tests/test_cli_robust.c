/* test_cli_robust — the `setm` binary against what a careless or hostile user gives it: output
 * paths that must not be replaced (devices, FIFOs, links, directories, the inputs themselves),
 * interrupted re-runs, temporary files of killed runs, signals, and malformed scenario and CSV
 * files.  Each test goes through the CLI, where the user meets the behaviour. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <spawn.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>
#include <hdf5.h>

#include "cli_harness.h"
#include "stop_harness.h"

static int setup(void **state) { return tu_fx_setup(state, "robust"); }
static int teardown(void **state) { return tu_fx_teardown(state); }

static char *path_in(struct tu_fx *f, const char *name, char *buf, size_t n)
{
    snprintf(buf, n, "%s/%s", f->dir, name);
    return buf;
}

static const char small[] = "[scenario]\nname = small\nseed = 5\n[sim]\ndays = 0.25\n"
                            "[mine]\nbackend = cpu\n[chain]\ndifficulty_bits = 8\n"
                            "[agent.house]\ncount = 3\n";

/* Ten years of 300 agents: minutes of work, so a test that returns at once did none of it.  A
 * one-day forecast window makes the history instant, so a signal after a second lands in the
 * slots even under AddressSanitizer on a loaded machine. */
static const char long_run[] = "[scenario]\nseed = 2\n[sim]\ndays = 3650\n[mine]\nbackend = cpu\n"
                               "[type.home_solar]\nforecast_days = 1\n"
                               "[population]\ncount = 300\nhome_solar = 1\n";

/* Root attribute `complete` of an HDF5 file, or -1 when the file or attribute is missing. */
static int64_t complete_of(const char *path)
{
    int64_t v = -1;
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), a;
    if (file < 0)
        return -1;
    a = H5Aopen(file, "complete", H5P_DEFAULT);
    if (a < 0 || H5Aread(a, H5T_NATIVE_INT64, &v) < 0)
        v = -1;
    if (a >= 0)
        H5Aclose(a);
    H5Fclose(file);
    return v;
}

/* Root string attribute `name` into buf. */
static char *attr_str(const char *path, const char *name, char *buf, size_t n)
{
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), a, t;
    char *v = NULL;
    assert_true(file >= 0);
    a = H5Aopen(file, name, H5P_DEFAULT);
    assert_true(a >= 0);
    t = H5Aget_type(a);
    assert_true(H5Aread(a, t, &v) >= 0);
    snprintf(buf, n, "%s", v);
    H5free_memory(v);
    H5Tclose(t);
    H5Aclose(a);
    H5Fclose(file);
    return buf;
}

/* Start `setm run SCENARIO -o OUT` in the background (stderr to dir/stderr); its pid. */
static pid_t start_run(struct tu_fx *f, const char *scenario, const char *out)
{
    char errp[128], *argv[8];
    posix_spawn_file_actions_t fa;
    pid_t pid;
    snprintf(errp, sizeof errp, "%s/stderr", f->dir);
    argv[0] = (char *)tu_setm_bin(), argv[1] = "run", argv[2] = (char *)scenario;
    argv[3] = "-o", argv[4] = (char *)out, argv[5] = NULL;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    assert_int_equal(posix_spawn(&pid, argv[0], &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    return pid;
}

/* Send sig to a run well into its work; its exit code (or 128 + signal); stderr in errtxt. */
static int interrupt_run(struct tu_fx *f, pid_t pid, int sig)
{
    char errp[128];
    int status;
    usleep(1500 * 1000);
    kill(pid, sig);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    snprintf(errp, sizeof errp, "%s/stderr", f->dir);
    tu_slurp(errp, f->errtxt, sizeof f->errtxt);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ---- what OUT may be ------------------------------------------------------------------------ */

/* A FIFO, a symbolic link and a directory under OUT are refused (exit 2) before any work, and
 * left as they were: rename() would have replaced each of them with the HDF5 file. */
static void test_cli_run_output_not_regular_file_refused(void **state)
{
    struct tu_fx *f = *state;
    char sc[256], fifo[256], link[256], target[256], sub[256];
    struct stat st;
    double t0;
    tu_fx_put(f, "long.ini", long_run, sc, sizeof sc);
    assert_int_equal(mkfifo(path_in(f, "fifo", fifo, sizeof fifo), 0644), 0);
    tu_fx_put(f, "target.txt", "mine\n", target, sizeof target);
    assert_int_equal(symlink(target, path_in(f, "link.h5", link, sizeof link)), 0);
    assert_int_equal(mkdir(path_in(f, "sub", sub, sizeof sub), 0755), 0);

    t0 = mono();
    assert_int_equal(tu_run(f, "run", sc, "-o", fifo, NULL), 2);
    assert_non_null(strstr(f->errtxt, "not a regular file"));
    assert_int_equal(lstat(fifo, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));

    assert_int_equal(tu_run(f, "run", sc, "-o", link, NULL), 2);
    assert_non_null(strstr(f->errtxt, "symbolic link"));
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    tu_slurp(target, f->out, sizeof f->out);
    assert_string_equal(f->out, "mine\n");

    assert_int_equal(tu_run(f, "run", sc, "-o", sub, NULL), 2);
    assert_non_null(strstr(f->errtxt, "a directory"));
    assert_int_equal(tu_run(f, "run", sc, "-o", "", NULL), 2);
    assert_non_null(strstr(f->errtxt, "empty"));
    /* four refusals of a ten-year run: none of it was simulated */
    assert_true(mono() - t0 < 20.0);
}

/* OUT naming the scenario, a use= file or a CSV profile is refused and the input kept. */
static void test_cli_run_output_equal_to_an_input_refused(void **state)
{
    struct tu_fx *f = *state;
    char sc[256], base[256], csv[256], text[1024];
    const char *csv_text = "1\n2\n3\n4\n";
    tu_fx_put(f, "base.ini", "[market]\nrounds_per_slot = 4\n", base, sizeof base);
    tu_fx_put(f, "load.csv", csv_text, csv, sizeof csv);
    snprintf(text, sizeof text,
             "[scenario]\nname = t\nuse = base.ini\n[sim]\ndays = 1\n[market]\nslot_minutes = 360\n"
             "[mine]\nbackend = cpu\n[agent.a]\ncount = 1\nload_csv = load.csv\n");
    tu_fx_put(f, "s.ini", text, sc, sizeof sc);
    assert_int_equal(tu_run(f, "run", sc, "-q", "-o", sc, NULL), 2);
    assert_non_null(strstr(f->errtxt, "input of this run"));
    tu_slurp(sc, f->out, sizeof f->out);
    assert_string_equal(f->out, text);
    assert_int_equal(tu_run(f, "run", sc, "-q", "-o", base, NULL), 2);
    assert_non_null(strstr(f->errtxt, "input of this run"));
    tu_slurp(base, f->out, sizeof f->out);
    assert_string_equal(f->out, "[market]\nrounds_per_slot = 4\n");
    assert_int_equal(tu_run(f, "run", sc, "-q", "-o", csv, NULL), 2);
    assert_non_null(strstr(f->errtxt, "load_csv"));
    tu_slurp(csv, f->out, sizeof f->out);
    assert_string_equal(f->out, csv_text);
}

/* An OUT in a directory that is not there fails at once (exit 1) with the system's reason. */
static void test_cli_run_output_directory_missing_gives_reason_before_work(void **state)
{
    struct tu_fx *f = *state;
    char sc[256], out[256];
    double t0;
    tu_fx_put(f, "long.ini", long_run, sc, sizeof sc);
    snprintf(out, sizeof out, "%s/no-such-dir/out.h5", f->dir);
    t0 = mono();
    assert_int_equal(tu_run(f, "run", sc, "-o", out, NULL), 1);
    assert_true(mono() - t0 < 10.0);
    assert_non_null(strstr(f->errtxt, "no-such-dir"));
    assert_non_null(strstr(f->errtxt, "No such file or directory"));
}

/* ---- interrupted runs ----------------------------------------------------------------------- */

/* Re-running into a finished OUT and interrupting it keeps the finished file (complete = 1, same
 * chain tip) and puts the partial run in OUT.partial.h5, saying so. */
static void test_cli_run_interrupted_rerun_keeps_finished_output(void **state)
{
    struct tu_fx *f = *state;
    char sc[256], lsc[256], out[256], partial[256], tip[128], tip2[128];
    tu_fx_put(f, "s.ini", small, sc, sizeof sc);
    tu_fx_put(f, "long.ini", long_run, lsc, sizeof lsc);
    path_in(f, "res.h5", out, sizeof out);
    path_in(f, "res.partial.h5", partial, sizeof partial);
    assert_int_equal(tu_run(f, "run", sc, "-q", "-o", out, NULL), 0);
    assert_int_equal(complete_of(out), 1);
    attr_str(out, "chain_tip", tip, sizeof tip);

    assert_int_equal(interrupt_run(f, start_run(f, lsc, out), SIGINT), 1);
    assert_int_equal(complete_of(out), 1);
    assert_string_equal(attr_str(out, "chain_tip", tip2, sizeof tip2), tip);
    assert_int_equal(complete_of(partial), 0);
    assert_non_null(strstr(f->errtxt, "res.partial.h5"));
    assert_non_null(strstr(f->errtxt, "kept"));
}

/* A partial OUT from an earlier interrupted run is simply replaced by the next partial run. */
static void test_cli_run_interrupted_rerun_replaces_earlier_partial(void **state)
{
    struct tu_fx *f = *state;
    char lsc[256], out[256], partial[256];
    tu_fx_put(f, "long.ini", long_run, lsc, sizeof lsc);
    path_in(f, "res.h5", out, sizeof out);
    path_in(f, "res.partial.h5", partial, sizeof partial);
    assert_int_equal(interrupt_run(f, start_run(f, lsc, out), SIGTERM), 1);
    assert_int_equal(complete_of(out), 0);
    assert_int_equal(interrupt_run(f, start_run(f, lsc, out), SIGTERM), 1);
    assert_int_equal(complete_of(out), 0);
    assert_int_equal(access(partial, F_OK), -1);
}

/* SIGHUP (the terminal closed) stops the run as SIGTERM does: exit 1, partial file kept. */
static void test_cli_run_sighup_keeps_partial_output(void **state)
{
    struct tu_fx *f = *state;
    char lsc[256], out[256];
    tu_fx_put(f, "long.ini", long_run, lsc, sizeof lsc);
    path_in(f, "hup.h5", out, sizeof out);
    assert_int_equal(interrupt_run(f, start_run(f, lsc, out), SIGHUP), 1);
    assert_non_null(strstr(f->errtxt, "complete = 0"));
    assert_int_equal(complete_of(out), 0);
}

/* Drawing the forecast history of 300 smart factories (1393 days each) takes seconds: a stop
 * request during it is honoured at once -- exit 1, nothing simulated, no file left. */
static void test_cli_run_stop_during_history_is_prompt(void **state)
{
    struct tu_fx *f = *state;
    char sc[256], out[256], cmd[400];
    double t0;
    int rc;
    pid_t pid;
    tu_fx_put(f, "fac.ini",
        "[scenario]\nseed = 2\n[sim]\ndays = 1\n[mine]\nbackend = cpu\n"
        "[population]\ncount = 300\nsmart_factory = 1\n",
        sc, sizeof sc);
    path_in(f, "fac.h5", out, sizeof out);
    pid = start_run(f, sc, out);
    usleep(1000 * 1000);
    t0 = mono();
    kill(pid, SIGTERM);
    assert_int_equal(waitpid(pid, &rc, 0), pid);
    assert_true(mono() - t0 < 2.0);
    assert_true(WIFEXITED(rc));
    assert_int_equal(WEXITSTATUS(rc), 1);
    tu_slurp(path_in(f, "stderr", cmd, sizeof cmd), f->errtxt, sizeof f->errtxt);
    assert_non_null(strstr(f->errtxt, "nothing was simulated"));
    assert_int_equal(access(out, F_OK), -1);
    snprintf(cmd, sizeof cmd, "ls %s | grep -q tmp", f->dir);
    assert_int_not_equal(system(cmd), 0);
}

/* One slot of 5000 agents negotiating in 300 rounds takes half a minute (every message
 * is signed and verified): a stop request is honoured after the current event, not at the end of
 * the slot, and the partial file is kept. */
static void test_cli_run_stop_inside_a_slot_is_prompt(void **state)
{
    struct tu_fx *f = *state;
    char sc[256], out[256];
    double t0;
    int rc;
    pid_t pid;
    tu_fx_put(f, "big.ini",
        "[scenario]\nseed = 2\n[sim]\ndays = 1\n[mine]\nbackend = cpu\n"
        "[market]\nrounds_per_slot = 300\n[type.home_solar]\nforecast_days = 1\n"
        "[population]\ncount = 5000\nhome_solar = 1\n",
        sc, sizeof sc);
    path_in(f, "big.h5", out, sizeof out);
    pid = start_run(f, sc, out);
    usleep(3000 * 1000); /* past the (one-day) history, inside the first slot */
    t0 = mono();
    kill(pid, SIGINT);
    assert_int_equal(waitpid(pid, &rc, 0), pid);
    assert_true(mono() - t0 < 6.0);
    assert_true(WIFEXITED(rc));
    assert_int_equal(WEXITSTATUS(rc), 1);
    assert_int_equal(complete_of(out), 0);
}

/* OUT.tmp.PID of a process that is gone (killed with SIGKILL) is removed by the next run of the
 * same OUT; one of a live process is left alone. */
static void test_cli_run_removes_temporary_files_of_dead_processes(void **state)
{
    struct tu_fx *f = *state;
    char sc[256], out[256], dead[300], alive[300];
    pid_t child = fork();
    int status;
    assert_true(child >= 0);
    if (child == 0)
        _exit(0);
    assert_int_equal(waitpid(child, &status, 0), child); /* reaped: that pid is gone */
    tu_fx_put(f, "s.ini", small, sc, sizeof sc);
    path_in(f, "res.h5", out, sizeof out);
    snprintf(dead, sizeof dead, "%s.tmp.%ld", out, (long)child);
    snprintf(alive, sizeof alive, "%s.tmp.%ld", out, (long)getpid());
    assert_int_equal(tu_put(f->dir, strrchr(dead, '/') + 1, "x", dead, sizeof dead), 0);
    assert_int_equal(tu_put(f->dir, strrchr(alive, '/') + 1, "x", alive, sizeof alive), 0);
    assert_int_equal(tu_run(f, "run", sc, "-q", "-o", out, NULL), 0);
    assert_int_equal(access(dead, F_OK), -1);
    assert_int_equal(access(alive, F_OK), 0);
}

/* ---- scenario files --------------------------------------------------------------------------- */

/* An indented line is a continuation of the previous value to inih: the error says so, at the
 * indented line, instead of "name is set twice". */
static void test_cli_config_indented_line_named_at_its_line(void **state)
{
    struct tu_fx *f = *state;
    char sc[256];
    tu_fx_put(f, "s.ini", "[scenario]\nname = x\n  seed = 5\n", sc, sizeof sc);
    assert_int_equal(tu_run(f, "run", sc, NULL), 2);
    assert_non_null(strstr(f->errtxt, "s.ini:3:"));
    assert_non_null(strstr(f->errtxt, "indented"));
    assert_null(strstr(f->errtxt, "set twice"));
}

/* '#' after a space starts a comment, as the README says (and as ';' does). */
static void test_cli_config_inline_hash_comment(void **state)
{
    struct tu_fx *f = *state;
    char sc[256], out[256], text[4096];
    tu_fx_put(f, "s.ini",
        "[scenario]\nname = x   # the name\nseed = 5\n[sim]\ndays = 0.25 # six hours\n"
        "[mine]\nbackend = cpu\n[chain]\ndifficulty_bits = 8\n[agent.house]\ncount = 2\n",
        sc, sizeof sc);
    path_in(f, "o.h5", out, sizeof out);
    assert_int_equal(tu_run(f, "run", sc, "-q", "-o", out, NULL), 0);
    attr_str(out, "scenario", text, sizeof text);
    assert_non_null(strstr(text, "days = 0.25\n"));
    assert_non_null(strstr(text, "name = x\n"));
}

/* A scenario that cannot be opened is bad input (exit 2), with the system's reason. */
static void test_cli_config_unopenable_scenario_exit_2(void **state)
{
    struct tu_fx *f = *state;
    char sc[256], bad[300];
    tu_fx_put(f, "s.ini", small, sc, sizeof sc);
    snprintf(bad, sizeof bad, "%s/inner.ini", sc); /* through a file: ENOTDIR */
    assert_int_equal(tu_run(f, "run", bad, NULL), 2);
    assert_non_null(strstr(f->errtxt, "Not a directory"));
    if (geteuid() != 0) { /* root reads anything */
        assert_int_equal(chmod(sc, 0), 0);
        assert_int_equal(tu_run(f, "run", sc, NULL), 2);
        assert_non_null(strstr(f->errtxt, "Permission denied"));
    }
}

/* hash_shares near DBL_MAX are the same shares as 1,1,1,1: the same chain, not an overflow to
 * zero shares and an empty chain. */
/* Column `name` of table /blocks as int64 (converted by HDF5) into a malloc'd array; its length in
 * *n. */
static int64_t *blocks_column(const char *path, const char *name, size_t *n)
{
    char ds[64];
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), d, sp;
    hsize_t len = 0;
    int64_t *v;
    assert_true(f >= 0);
    snprintf(ds, sizeof ds, "/blocks/%s", name);
    assert_true((d = H5Dopen2(f, ds, H5P_DEFAULT)) >= 0);
    sp = H5Dget_space(d);
    H5Sget_simple_extent_dims(sp, &len, NULL);
    assert_non_null(v = calloc(len ? len : 1, sizeof *v));
    assert_true(H5Dread(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    H5Sclose(sp);
    H5Dclose(d);
    H5Fclose(f);
    *n = (size_t)len;
    return v;
}

/* Four shares of 1e308 (whose sum overflows a double: every share became 0 and nothing was
 * mined) are four equal shares: blocks are mined, and each node's count of found blocks is
 * consistent with 1/4 (chi-square, 3 degrees of freedom, below 16.27, p = 0.001). */
static void test_cli_config_huge_hash_shares_normalised(void **state)
{
    struct tu_fx *f = *state;
    char sc[256], a[256];
    size_t n;
    int64_t *miner;
    double count[4] = {0}, chi2 = 0;
    tu_fx_put(f, "s.ini", small, sc, sizeof sc);
    path_in(f, "a.h5", a, sizeof a);
    assert_int_equal(tu_run(f, "run", sc, "-q", "-o", a, "--set", "chain.nodes=4", "--set",
                         "chain.hash_shares=1e308,1e308,1e308,1e308", NULL),
                     0);
    miner = blocks_column(a, "miner", &n);
    assert_true(n > 100);
    for (size_t i = 0; i < n; i++)
        if (miner[i] >= 0) { /* the genesis block has no finder */
            assert_true(miner[i] < 4);
            count[miner[i]]++;
        }
    for (int k = 0; k < 4; k++) {
        double want = (count[0] + count[1] + count[2] + count[3]) / 4;
        chi2 += (count[k] - want) * (count[k] - want) / want;
    }
    if (chi2 >= 16.27)
        fail_msg("found blocks per node %.0f %.0f %.0f %.0f: chi-square %.2f", count[0], count[1],
                 count[2], count[3], chi2);
    free(miner);
}

/* ---- CSV profiles ----------------------------------------------------------------------------- */

/* A scenario of one agent whose load (and zero generation) come from CSV files, at slot_minutes
 * = 360 (4 slots a day) for `days`. */
static char *csv_scenario(struct tu_fx *f, const char *load_csv, const char *days, char *buf,
                          size_t n)
{
    char text[1024], gen[256];
    const char *zeros = !strcmp(days, "0.5") ? "0\n0\n0\n0\n" : "0\n0\n0\n0\n0\n0\n0\n0\n";
    tu_fx_put(f, "gen.csv", zeros, gen, sizeof gen);
    snprintf(text, sizeof text,
             "[scenario]\nname = c\n[sim]\ndays = %s\n[market]\nslot_minutes = 360\n"
             "[mine]\nbackend = cpu\n[chain]\ndifficulty_bits = 8\n"
             "[agent.a]\ncount = 1\nload_csv = %s\ngeneration_csv = gen.csv\n",
             days, load_csv);
    return tu_fx_put(f, "c.ini", text, buf, n);
}

/* A run shorter than a day (2 slots) still needs a whole day of values (4): the forecast
 * history reads every slot of the first day.  Two values are refused, four accepted. */
static void test_cli_csv_shorter_than_a_day_needs_a_whole_day(void **state)
{
    struct tu_fx *f = *state;
    char sc[256], csv[256], out[256];
    path_in(f, "o.h5", out, sizeof out);
    tu_fx_put(f, "load.csv", "1\n2\n", csv, sizeof csv);
    csv_scenario(f, "load.csv", "0.5", sc, sizeof sc);
    assert_int_equal(tu_run(f, "run", sc, "-q", "-o", out, NULL), 2);
    assert_non_null(strstr(f->errtxt, "whole day"));
    assert_non_null(strstr(f->errtxt, "load.csv"));
    tu_fx_put(f, "load.csv", "1\n2\n3\n4\n", csv, sizeof csv);
    assert_int_equal(tu_run(f, "run", sc, "-q", "-o", out, NULL), 0);
}

/* A UTF-8 byte-order mark (spreadsheets write one) is skipped: the values are read, and the run
 * consumes exactly their sum (1.5 + 2.5 + 3 + 1 + 0.5 + 0.5 + 0.5 + 0.5 = 10 kWh). */
static void test_cli_csv_byte_order_mark_accepted(void **state)
{
    struct tu_fx *f = *state;
    char sc[256], csv[256], out[256];
    path_in(f, "o.h5", out, sizeof out);
    tu_fx_put(f, "load.csv", "\xef\xbb\xbfload_kwh\n1.5\n2.5\n3\n1\n0.5\n0.5\n0.5\n0.5\n", csv,
        sizeof csv);
    csv_scenario(f, "load.csv", "2", sc, sizeof sc);
    assert_int_equal(tu_run(f, "run", sc, "-o", out, NULL), 0);
    assert_non_null(strstr(f->out, "10.0 kWh consumed"));
    /* without a header too */
    tu_fx_put(f, "load.csv", "\xef\xbb\xbf" "1.5\n2.5\n3\n1\n0.5\n0.5\n0.5\n0.5\n", csv, sizeof csv);
    assert_int_equal(tu_run(f, "run", sc, "-o", out, NULL), 0);
    assert_non_null(strstr(f->out, "10.0 kWh consumed"));
}

/* A NUL byte is named as such, at its line. */
static void test_cli_csv_nul_byte_named(void **state)
{
    struct tu_fx *f = *state;
    char sc[256], csv[256];
    FILE *fp;
    snprintf(csv, sizeof csv, "%s/load.csv", f->dir);
    fp = fopen(csv, "wb");
    assert_non_null(fp);
    fwrite("1\n2\0\n3\n4\n1\n1\n1\n1\n", 1, 17, fp);
    fclose(fp);
    csv_scenario(f, "load.csv", "2", sc, sizeof sc);
    assert_int_equal(tu_run(f, "run", sc, "-q", NULL), 2);
    assert_non_null(strstr(f->errtxt, "load.csv:2: contains a NUL byte"));
}

/* A directory given as a CSV is bad input (exit 2), not a read error (exit 1). */
static void test_cli_csv_directory_exit_2(void **state)
{
    struct tu_fx *f = *state;
    char sc[256], d[256];
    assert_int_equal(mkdir(path_in(f, "load.csv", d, sizeof d), 0755), 0);
    csv_scenario(f, "load.csv", "2", sc, sizeof sc);
    assert_int_equal(tu_run(f, "run", sc, "-q", NULL), 2);
    assert_non_null(strstr(f->errtxt, "not a regular file"));
}

/* 1e-320 (a subnormal: strtod reports ERANGE but returns it) is a number; 1e308 kWh in a slot
 * is out of range like pv_kwp beyond its bound, not an inf/NaN summary. */
static void test_cli_csv_tiny_accepted_huge_out_of_range(void **state)
{
    struct tu_fx *f = *state;
    char sc[256], csv[256], out[256];
    path_in(f, "o.h5", out, sizeof out);
    csv_scenario(f, "load.csv", "2", sc, sizeof sc);
    tu_fx_put(f, "load.csv", "1e-320\n1\n1\n1\n1\n1\n1\n1\n", csv, sizeof csv);
    assert_int_equal(tu_run(f, "run", sc, "-q", "-o", out, NULL), 0);
    tu_fx_put(f, "load.csv", "1e308\n1e308\n1\n1\n1\n1\n1\n1\n", csv, sizeof csv);
    assert_int_equal(tu_run(f, "run", sc, "-q", "-o", out, NULL), 2);
    assert_non_null(strstr(f->errtxt, "load.csv:1:"));
    assert_non_null(strstr(f->errtxt, "out of range"));
}

/* ---- messages ------------------------------------------------------------------------------- */

/* A stored scenario that no longer loads: the message names the key once, its prefix once (the
 * message used to be formatted into its own buffer). */
static void test_cli_verify_unloadable_scenario_message(void **state)
{
    struct tu_fx *f = *state;
    char sc[256], out[256];
    const char *bad = "[market]\nslot_minutes = 0\n";
    hid_t file, a, t, s;
    tu_fx_put(f, "s.ini", small, sc, sizeof sc);
    path_in(f, "o.h5", out, sizeof out);
    assert_int_equal(tu_run(f, "run", sc, "-q", "-o", out, NULL), 0);
    file = H5Fopen(out, H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(file >= 0);
    assert_true(H5Adelete(file, "scenario") >= 0);
    t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    s = H5Screate(H5S_SCALAR);
    a = H5Acreate2(file, "scenario", t, s, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(a >= 0);
    assert_true(H5Awrite(a, t, &bad) >= 0);
    H5Aclose(a), H5Sclose(s), H5Tclose(t);
    H5Fclose(file);
    assert_int_equal(tu_run(f, "verify", out, NULL), 2);
    assert_non_null(strstr(f->errtxt, "slot_minutes"));
    {
        const char *p = strstr(f->errtxt, "does not load");
        assert_non_null(p);
        assert_null(strstr(p + 1, "does not load"));
    }
}

/* `setm mine --count` and `bench mine --nonces` say what they accept: 1 and up, not 0. */
static void test_cli_mine_count_range_message(void **state)
{
    struct tu_fx *f = *state;
    /* up to 7200 x 2^32 (roll, nonce) pairs: the header time rolls up to two hours */
    assert_int_equal(tu_run(f, "mine", "--header", "00", "--count", "x", NULL), 2);
    assert_non_null(strstr(f->errtxt, "from 1 to 30923764531200"));
    assert_int_equal(tu_run(f, "mine", "--header", "00", "--count", "0", NULL), 2);
    assert_non_null(strstr(f->errtxt, "from 1 to 30923764531200"));
    assert_int_equal(tu_run(f, "bench", "mine", "--nonces", "x", NULL), 2);
    assert_non_null(strstr(f->errtxt, "from 1 to 4294967296"));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_cli_run_output_not_regular_file_refused),
        T(test_cli_run_output_equal_to_an_input_refused),
        T(test_cli_run_output_directory_missing_gives_reason_before_work),
        T(test_cli_run_interrupted_rerun_keeps_finished_output),
        T(test_cli_run_interrupted_rerun_replaces_earlier_partial),
        T(test_cli_run_sighup_keeps_partial_output),
        T(test_cli_run_stop_during_history_is_prompt),
        T(test_cli_run_stop_inside_a_slot_is_prompt),
        T(test_cli_run_removes_temporary_files_of_dead_processes),
        T(test_cli_config_indented_line_named_at_its_line),
        T(test_cli_config_inline_hash_comment),
        T(test_cli_config_unopenable_scenario_exit_2),
        T(test_cli_config_huge_hash_shares_normalised),
        T(test_cli_csv_shorter_than_a_day_needs_a_whole_day),
        T(test_cli_csv_byte_order_mark_accepted),
        T(test_cli_csv_nul_byte_named),
        T(test_cli_csv_directory_exit_2),
        T(test_cli_csv_tiny_accepted_huge_out_of_range),
        T(test_cli_verify_unloadable_scenario_message),
        T(test_cli_mine_count_range_message),
    };
    return cmocka_run_group_tests_name("cli_robust", tests, NULL, NULL);
}
