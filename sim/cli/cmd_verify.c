/*
 * cmd_verify — `setm verify FILE.h5`: re-check a finished run's chain, transactions, trades and
 * balances from the file alone (chain/verify.h does the work; this file only prints).  Exit 0
 * when everything holds, 1 when a check fails (the first failing block or transaction is named),
 * 2 for input that is not a finished setm run file.
 *
 * The check runs in a child process under a time limit: libhdf5 1.10 itself can loop forever or
 * crash on some damaged files (fuzz_verify found a global-heap loop in H5Aread), which no caller
 * can prevent; the parent turns that into exit 2 with a message instead of a hang or a core dump.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "chain/verify.h"
#include "cli/cli.h"
#include "core/pool.h"

static const char verify_usage[] =
    "usage: setm verify [--quiet] [--threads N] [--timeout S] FILE.h5\n"
    "\n"
    "Re-check a finished run from its HDF5 output alone: re-hash every stored 80-byte header and\n"
    "check it meets its target and the difficulty rule, the previous-hash links and that the\n"
    "stale = 0 blocks form one most-work chain from genesis, re-derive every txid from its stored\n"
    "encoding and every Merkle root from the txids, verify every Ed25519 signature, check every\n"
    "trade transaction against its /trades rows (seller, buyers, kWh, price, times), and re-play\n"
    "the coins along the main chain from chain.initial_coins (no wallet below zero).\n"
    "\n"
    "  --quiet      print nothing when the file verifies\n"
    "  -j, --threads N  threads checking blocks and signatures, 0 = every core (the default);\n"
    "               the verdict and the failure named do not depend on it\n"
    "  --timeout S  give up after S seconds (default 60 + 2 per MB of file): exit 2\n"
    "\n"
    "Exit 0 verified, 1 a check failed (the first failing block or transaction is named),\n"
    "2 not a finished setm run file (not HDF5, truncated, a table or column missing, partial).\n";

static int verify_here(const char *path, int quiet, int threads)
{
    struct chain_verify_opts o = {.cfg = NULL, .flags = 0, .threads = threads};
    struct chain_verify_report rep;
    struct err e = {0};
    int rc = chain_verify_file(path, &o, &rep, &e);
    if (rc == ERR_VERIFY) {
        fprintf(stderr, "setm verify: %s: FAILED: %s\n", path, e.msg);
        return 1;
    }
    if (rc)
        return cli_fail("verify", &e);
    if (!quiet)
        printf("setm verify: %s: OK: %lld blocks (%lld stale; main chain height %lld, tip %s), "
               "%lld transactions (%lld on the main chain, %lld signatures), %lld trades, "
               "%lld wallets re-played\n",
               path, (long long)rep.blocks, (long long)rep.stale, (long long)rep.height, rep.tip,
               (long long)rep.txs, (long long)rep.txs_main, (long long)rep.signatures,
               (long long)rep.trades, (long long)rep.wallets);
    return 0;
}

int cli_verify(int argc, char **argv)
{
    static const struct option longopts[] = {{"quiet", no_argument, NULL, 'q'},
                                             {"timeout", required_argument, NULL, 't'},
                                             {"threads", required_argument, NULL, 'j'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    unsigned long long limit = 0, threads = 0;
    struct stat st;
    int quiet = 0, c, status;
    pid_t pid;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "qhj:", longopts, NULL)) != -1) {
        switch (c) {
        case 'q':
            quiet = 1;
            break;
        case 't':
            if (cli_parse_u64(optarg, &limit) || limit < 1 || limit > 86400 * 7)
                return cli_usage_error("verify", verify_usage, "--timeout: 1..604800 seconds");
            break;
        case 'j':
            if (cli_parse_u64(optarg, &threads) || threads > POOL_MAX_THREADS)
                return cli_usage_error("verify", verify_usage,
                                       "--threads %s: expected 0 (every core) to %d", optarg,
                                       POOL_MAX_THREADS);
            break;
        case 'h':
            fputs(verify_usage, stdout);
            return 0;
        default:
            return cli_usage_error("verify", verify_usage, "unknown option '%s'",
                                   argv[optind - 1]);
        }
    }
    if (argc - optind != 1)
        return cli_usage_error("verify", verify_usage, "expected one FILE.h5, got %d arguments",
                               argc - optind);
    if (!limit)
        limit = 60 + (stat(argv[optind], &st) == 0 ? 2 * ((unsigned long long)st.st_size >> 20)
                                                   : 0);
    fflush(NULL);
    pid = fork();
    if (pid < 0) /* no process to spare: check here, unguarded */
        return verify_here(argv[optind], quiet, (int)threads);
    if (pid == 0) {
        alarm((unsigned)limit);
        exit(verify_here(argv[optind], quiet, (int)threads));
    }
    while (waitpid(pid, &status, 0) < 0)
        ;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WTERMSIG(status) == SIGALRM)
        fprintf(stderr,
                "setm verify: %s: no answer after %llu s: the HDF5 library loops on this damaged "
                "file (or use --timeout for a very large one)\n",
                argv[optind], limit);
    else
        fprintf(stderr, "setm verify: %s: the HDF5 library crashed (signal %d) reading this "
                        "damaged file\n",
                argv[optind], WTERMSIG(status));
    return 2;
}
