/*
 * options.c - updraft-worker's command line and configuration (see
 * options.h).
 */
#include "worker/options.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"

/* The flags themselves, before the configuration fills what they left out. */
typedef struct flags {
    const char *queues, *hostname, *health_port;
    int concurrency;
    bool orchestration_only;
} flags_t;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: updraft-worker [--queues a,b] [--concurrency N] [--hostname NAME]\n"
            "                      [--health-port [HOST:]PORT] [--config PATH] [--print-config]\n"
            "                      [--orchestration-only]\n"
            "\n"
            "  --health-port PORT    answer GET /health on this port (127.0.0.1 unless a host\n"
            "                        is given): 200 while heartbeats are written, else 503\n"
            "  --orchestration-only  FOR BENCHMARKS ONLY: claim each try, record it running\n"
            "                        and complete it as success without starting its process\n"
            "                        (no task runs, no log is written). Never use it in\n"
            "                        production.\n");
}

/* Parses the worker's own flags (config flags were taken out already). 0, 1 (help), -1. */
static int parse_flags(int argc, char **argv, flags_t *o)
{
    static const struct option longopts[] = {{"queues", required_argument, NULL, 'q'},
                                             {"concurrency", required_argument, NULL, 'c'},
                                             {"hostname", required_argument, NULL, 'H'},
                                             {"orchestration-only", no_argument, NULL, 'O'},
                                             {"health-port", required_argument, NULL, 'P'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "q:c:H:hOP:", longopts, NULL)) != -1) {
        char *end;
        long v;
        switch (ch) {
        case 'q':
            o->queues = optarg;
            break;
        case 'c':
            errno = 0;
            v = strtol(optarg, &end, 10);
            if (errno || *end || v < 1 || v > 4096) {
                fprintf(stderr, "updraft-worker: --concurrency must be 1..4096\n");
                return -1;
            }
            o->concurrency = (int)v;
            break;
        case 'H':
            o->hostname = optarg;
            break;
        case 'O':
            o->orchestration_only = true;
            break;
        case 'P':
            o->health_port = optarg;
            break;
        case 'h':
            usage(stdout);
            return 1;
        default:
            usage(stderr);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "updraft-worker: unexpected argument %s\n", argv[optind]);
        return -1;
    }
    return 0;
}

/* Splits "a, b" into names; validates and de-duplicates. Returns the count or -1. */
static int split_queues(char *csv, const char **out, char *joined, size_t joinlen)
{
    int n = 0;
    joined[0] = '\0';
    for (char *save = NULL, *tok = strtok_r(csv, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ' || *tok == '\t')
            tok++;
        char *e = tok + strlen(tok);
        while (e > tok && (e[-1] == ' ' || e[-1] == '\t'))
            *--e = '\0';
        if (!*tok)
            continue;
        if (!queue_name_valid(tok)) {
            fprintf(stderr, "updraft-worker: invalid queue name \"%s\"\n", tok);
            return -1;
        }
        bool dup = false;
        for (int i = 0; i < n; i++)
            dup = dup || strcmp(out[i], tok) == 0;
        if (dup)
            continue;
        if (n == WORKER_MAX_QUEUES) {
            fprintf(stderr, "updraft-worker: at most %d queues\n", WORKER_MAX_QUEUES);
            return -1;
        }
        out[n++] = tok;
        size_t l = strlen(joined);
        snprintf(joined + l, joinlen - l, "%s%s", l ? "," : "", tok);
    }
    if (n == 0)
        fprintf(stderr, "updraft-worker: no queue to consume\n");
    return n > 0 ? n : -1;
}

/* Takes --print-config out of argv (it must show the other flags' overrides). */
static bool take_print_config(int *argc, char **argv)
{
    bool print = false;
    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], "--print-config") == 0) {
            print = true;
            memmove(&argv[i], &argv[i + 1], (size_t)(*argc - i) * sizeof(*argv));
            (*argc)--;
            i--;
        }
    }
    return print;
}

/* The hostname, the queues and the logger, once the options are known. 0 or -1. */
static int settle(worker_options_t *w, const flags_t *f)
{
    log_level_t lvl = LOG_LEVEL_INFO;
    if (w->cfg.logging.level && log_parse_level(w->cfg.logging.level, &lvl) < 0) {
        fprintf(stderr, "updraft-worker: invalid logging.level \"%s\"\n", w->cfg.logging.level);
        return -1;
    }
    log_init("worker", lvl);
    if (f->hostname) {
        snprintf(w->hostname, sizeof(w->hostname), "%s", f->hostname);
    } else if (gethostname(w->hostname, sizeof(w->hostname)) != 0) {
        snprintf(w->hostname, sizeof(w->hostname), "localhost");
    }
    w->hostname[sizeof(w->hostname) - 1] = '\0';
    if (!(w->queues_buf = strdup(f->queues ? f->queues : "default")))
        return -1;
    w->nqueues = split_queues(w->queues_buf, w->queues, w->queues_csv, sizeof(w->queues_csv));
    return w->nqueues < 0 ? -1 : 0;
}

int worker_options_load(int argc, char **argv, worker_options_t *w)
{
    flags_t f = {0};
    memset(w, 0, sizeof(*w));
    bool print = take_print_config(&argc, argv);
    if (config_from_args(&argc, argv, &w->cfg) != 0)
        return -1;
    w->have_cfg = true;
    int pf = parse_flags(argc, argv, &f);
    if (pf != 0)
        return pf;
    if (!f.queues)
        f.queues = w->cfg.worker.queues;
    if (!f.concurrency)
        f.concurrency = w->cfg.worker.concurrency;
    if (!f.hostname && w->cfg.core.hostname && *w->cfg.core.hostname)
        f.hostname = w->cfg.core.hostname;
    if (print) {
        config_t shown = w->cfg;
        shown.worker.queues = (char *)f.queues;
        shown.worker.concurrency = f.concurrency;
        shown.core.hostname = (char *)(f.hostname ? f.hostname : "");
        config_print(&shown, stdout);
        return 1;
    }
    w->health_port = f.health_port;
    w->concurrency = f.concurrency;
    w->orchestration_only = f.orchestration_only;
    return settle(w, &f);
}

void worker_options_free(worker_options_t *w)
{
    free(w->queues_buf);
    w->queues_buf = NULL;
    if (w->have_cfg)
        config_free(&w->cfg);
    w->have_cfg = false;
}
