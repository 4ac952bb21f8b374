/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>
#include <locale.h>
#include <sys/stat.h>

#include "bus-errors.h"
#include "config.h"
#include "log.h"
#include "manager.h"

typedef struct Args {
        char *config_dir;
        char *state_dir;
        char *bpffs_root;
        char *image_store;
        usec_t idle_timeout;
        bool idle_timeout_set;
        int log_level;
} Args;

static void help(void) {
        printf("%s [OPTIONS...]\n\n"
               "The bpfhub system service: loads, attaches, lists and unloads eBPF programs\n"
               "for its D-Bus callers (bus name " BPFHUB_BUS_NAME "), with polkit deciding\n"
               "who may do what. It is normally started by D-Bus activation through\n"
               "systemd (bpfhubd.service), not by hand.\n\n"
               "Options (each also settable in [Daemon] of <config-dir>/bpfhub.conf;\n"
               "the command line wins):\n"
               "  -h --help                 Show this help and exit\n"
               "     --version              Show the version and exit\n"
               "     --config-dir=DIR       Read bpfhub.conf and bpfhub.conf.d/ from DIR\n"
               "                            (default: %s; command line only)\n"
               "     --state-dir=DIR        Keep runtime records in DIR (StateDirectory=,\n"
               "                            default: %s)\n"
               "     --bpffs-root=DIR       Pin programs and links below DIR on a bpf file\n"
               "                            system (BpffsRoot=, default: %s)\n"
               "     --image-store=DIR      Keep pulled OCI images in DIR (ImageStore=,\n"
               "                            default: %s)\n"
               "     --idle-timeout=TIME    Exit after TIME without requests, e.g. 30s,\n"
               "                            5min; 0 = never (IdleTimeout=, default: 30s)\n"
               "     --log-level=LEVEL      debug, info, notice, warning or err\n"
               "                            (LogLevel=, default: info)\n\n"
               "Logs go to the journal when started by systemd, to stderr otherwise.\n"
               "See bpfhubd(8).\n",
               program_invocation_short_name, BPFHUB_CONFIG_DIR, BPFHUB_STATE_DIR,
               BPFHUB_BPFFS_ROOT, BPFHUB_IMAGE_STORE);
}

static void args_done(Args *a) {
        free(a->config_dir);
        free(a->state_dir);
        free(a->bpffs_root);
        free(a->image_store);
}

/* Returns >0 to go on, 0 to exit successfully, <0 on error. */
static int parse_argv(int argc, char *argv[], Args *a) {
        enum {
                ARG_VERSION = 0x100,
                ARG_CONFIG_DIR,
                ARG_STATE_DIR,
                ARG_BPFFS_ROOT,
                ARG_IMAGE_STORE,
                ARG_IDLE_TIMEOUT,
                ARG_LOG_LEVEL,
        };
        static const struct option options[] = {
                { "help",         no_argument,       NULL, 'h' },
                { "version",      no_argument,       NULL, ARG_VERSION },
                { "config-dir",   required_argument, NULL, ARG_CONFIG_DIR },
                { "state-dir",    required_argument, NULL, ARG_STATE_DIR },
                { "bpffs-root",   required_argument, NULL, ARG_BPFFS_ROOT },
                { "image-store",  required_argument, NULL, ARG_IMAGE_STORE },
                { "idle-timeout", required_argument, NULL, ARG_IDLE_TIMEOUT },
                { "log-level",    required_argument, NULL, ARG_LOG_LEVEL },
                {}
        };
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("bpfhubd %s\n", PACKAGE_VERSION);
                        return 0;
                case ARG_CONFIG_DIR:
                case ARG_STATE_DIR:
                case ARG_BPFFS_ROOT:
                case ARG_IMAGE_STORE: {
                        char **field = c == ARG_CONFIG_DIR ? &a->config_dir :
                                       c == ARG_STATE_DIR  ? &a->state_dir :
                                       c == ARG_BPFFS_ROOT ? &a->bpffs_root :
                                                             &a->image_store;
                        r = config_set_path(field, optarg);
                        if (r == -ENOMEM)
                                return log_oom();
                        if (r < 0)
                                return log_error_errno(r, "Option --%s= needs an absolute path: %s",
                                                       options[c - ARG_VERSION + 1].name, optarg);
                        break;
                }
                case ARG_IDLE_TIMEOUT:
                        r = parse_timespan(optarg, &a->idle_timeout);
                        if (r < 0)
                                return log_error_errno(r, "Invalid --idle-timeout= value \"%s\": "
                                                       "expected a time span such as 30s or 5min.", optarg);
                        a->idle_timeout_set = true;
                        break;
                case ARG_LOG_LEVEL:
                        a->log_level = log_level_from_string(optarg);
                        if (a->log_level < 0)
                                return log_error_errno(EINVAL, "Invalid --log-level= value \"%s\".", optarg);
                        log_set_max_level(a->log_level);
                        break;
                case '?':
                        return -EINVAL;
                default:
                        abort();
                }
        }
        if (optind < argc)
                return log_error_errno(EINVAL, "%s takes no positional arguments.",
                                       program_invocation_short_name);
        return 1;
}

static int apply_args(BpfhubConfig *c, Args *a) {
        struct { char **from, **to; } paths[] = {
                { &a->state_dir, &c->state_dir },
                { &a->bpffs_root, &c->bpffs_root },
                { &a->image_store, &c->image_store },
        };

        for (size_t i = 0; i < ELEMENTSOF(paths); i++)
                if (*paths[i].from) {
                        free(*paths[i].to);
                        *paths[i].to = TAKE_PTR(*paths[i].from);
                }
        if (a->idle_timeout_set)
                c->idle_timeout = a->idle_timeout;
        if (a->log_level >= 0)
                c->log_level = a->log_level;
        return 0;
}

static int run(int argc, char *argv[]) {
        _cleanup_(args_done) Args args = { .log_level = -1 };
        _cleanup_(config_done) BpfhubConfig config = {};
        _cleanup_(manager_freep) Manager *m = NULL;
        int r;

        (void) setlocale(LC_ALL, "");
        log_setup("bpfhubd", LOG_TARGET_AUTO);
        umask(0022);

        r = parse_argv(argc, argv, &args);
        if (r <= 0)
                return r;

        r = config_init(&config);
        if (r < 0)
                return log_oom();
        if (args.config_dir) {
                free(config.config_dir);
                config.config_dir = TAKE_PTR(args.config_dir);
        }
        r = config_load(&config);
        if (r < 0)
                return log_error_errno(r, "Failed to load configuration: %m");
        (void) apply_args(&config, &args);
        if (config.log_level >= 0)
                log_set_max_level(config.log_level);

        r = sd_bus_error_add_map(bpfhub_bus_error_map);
        if (r < 0)
                return log_error_errno(r, "Failed to register error map: %m");

        r = manager_new(&config, &m);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the manager: %m");

        r = manager_startup(m);
        if (r < 0)
                return r;

        r = manager_run(m);
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m");
        log_debug("Exiting.");
        return 0;
}

int main(int argc, char *argv[]) {
        int r = run(argc, argv);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
