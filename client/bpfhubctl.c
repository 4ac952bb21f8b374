/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>
#include <locale.h>

#include "bpfhubctl.h"
#include "log.h"
#include "pager.h"
#include "verbs.h"

static void help(void) {
        printf(_("%s [OPTIONS...] COMMAND ...\n\n"
                 "Manage eBPF programs through the bpfhub system service (bpfhubd).\n\n"
                 "Commands:\n"
                 "  status                  Show the service's version, configuration and\n"
                 "                          which eBPF program types and attach kinds the\n"
                 "                          running kernel supports\n"
                 "  load file --path P --name N [-g NAME=HEX] [-m K=V] [--map-owner-id ID]\n"
                 "            [--application NAME] TYPE [TYPE OPTIONS]\n"
                 "                          Load function N of object P and attach it; TYPE is\n"
                 "                          xdp|tc|tcx (-i IFACE -p PRIO [-d DIR] [--netns P]\n"
                 "                          [--mode native|generic] [--proceed-on A...]),\n"
                 "                          tracepoint (--tracepoint G/N), kprobe (-f FN [-o OFF]\n"
                 "                          [-r]), uprobe (-t TARGET -f FN|-o OFF [-r] [--pid P]),\n"
                 "                          fentry|fexit (-f FN), cgroup (--cgroup PATH\n"
                 "                          --attach-type ingress|egress|sock_create|connect4|...)\n"
                 "  attach ID TYPE [TYPE OPTIONS]\n"
                 "                          Attach loaded program ID once more\n"
                 "  detach LINK             Detach link LINK\n"
                 "  unload ID               Detach and unload program ID\n"
                 "  list [--all] [--program-type T] [--metadata-selector K=V] [--application N]\n"
                 "                          List managed programs (--all: every program)\n"
                 "  list --iface IF [--netns PATH]\n"
                 "                          Every program on IF's XDP, TCX and tc hooks, in\n"
                 "                          run order, whoever attached it\n"
                 "  get ID                  Show bpfhub and kernel state of program ID\n"
                 "  load image --image-url REF --name N [-r AUTH] [-p POLICY] [-g ...] [-m ...]\n"
                 "            TYPE [TYPE OPTIONS]\n"
                 "                          Load function N from an OCI image (registry\n"
                 "                          reference or oci:DIR[:TAG]) and attach it\n"
                 "  image pull --image-url REF [-r AUTH] [-p Always|IfNotPresent|Never]\n"
                 "                          Pull a bytecode image into the image store\n"
                 "  image list              List the images in the store\n"
                 "  image inspect REF       Show an image's digest, format, programs and users\n"
                 "  image rm REF...         Remove images no loaded program uses\n"
                 "  image prune [--all]     Remove unreferenced blobs (--all: unused images too)\n\n"
                 "Options:\n"
                 "  -h --help               Show this help\n"
                 "     --version            Show the package version\n"
                 "     --json=MODE          Print JSON: pretty (the default for --json),\n"
                 "                          short (one line) or off\n"
                 "     --no-pager           Do not pipe output into a pager\n"
                 "     --no-legend          Do not print column headers and footers\n"
                 "     --no-ask-password    Do not ask for a password when polkit wants one\n"
                 "  -H --host=[USER@]HOST   Operate on a remote host (over ssh)\n\n"
                 "Exit status: 0 success, 1 failure, 2 invalid usage, 3 no such object,\n"
                 "4 not authorized, 5 service unavailable. See bpfhubctl(1).\n"),
               program_invocation_short_name);
}

/* The options every verb accepts, before or after the verb. With "in_verb",
 * argv[0] is the verb and parsing stops at nothing; otherwise it stops at the
 * verb so that verb options stay the verb's. */
int common_option(Context *c, int opt, const char *arg) {
        switch (opt) {
        case '?':
                return -EINVAL; /* getopt has said what was wrong */
        case ARG_COMMON_JSON:
                if (!arg || streq(arg, "pretty"))
                        c->json = JSON_PRETTY;
                else if (streq(arg, "short"))
                        c->json = JSON_SHORT;
                else if (streq(arg, "off"))
                        c->json = JSON_OFF;
                else
                        return log_error_errno(EINVAL, _("Unknown --json= mode '%s': use pretty, short or off."), arg);
                return 1;
        case ARG_COMMON_NO_PAGER:
                c->no_pager = true;
                return 1;
        case ARG_COMMON_NO_LEGEND:
                c->legend = false;
                return 1;
        case ARG_COMMON_NO_ASK_PASSWORD:
                c->ask_password = false;
                return 1;
        default:
                abort(); /* an option in a table but not in a switch */
        }
}

json_object *json_get(json_object *o, const char *key) {
        json_object *v = NULL;

        return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

const char *json_str(json_object *o, const char *key) {
        json_object *v = json_get(o, key);

        return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

int parse_common_options(int argc, char *argv[], Context *c, bool in_verb) {
        enum {
                ARG_VERSION = 0x100,
        };
        static const struct option options[] = {
                { "help",      no_argument,       NULL, 'h' },
                { "version",   no_argument,       NULL, ARG_VERSION },
                { "host",      required_argument, NULL, 'H' },
                COMMON_OPTIONS,
                {}
        };
        int opt, r;

        optind = 0;
        while ((opt = getopt_long(argc, argv, in_verb ? "hH:" : "+hH:", options, NULL)) >= 0) {
                switch (opt) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("bpfhubctl %s\n", PACKAGE_VERSION);
                        return 0;
                case 'H':
                        c->host = optarg;
                        break;
                default:
                        r = common_option(c, opt, optarg);
                        if (r < 0)
                                return r;
                }
        }
        return 1;
}

int acquire_bus(Context *c, sd_bus **ret) {
        int r;

        if (c->host)
                r = sd_bus_open_system_remote(ret, c->host);
        else
                r = sd_bus_open_system(ret);
        if (r < 0) {
                c->exit_status = EXIT_UNAVAILABLE;
                return log_error_errno(r, _("Failed to connect to the system bus%s%s: %m"),
                                       c->host ? _(" on ") : "", c->host ?: "");
        }
        /* polkit may ask for a password only if we let it, and only locally
         * can we offer an agent on this terminal. */
        (void) sd_bus_set_allow_interactive_authorization(*ret, c->ask_password);
        if (c->ask_password && !c->host)
                (void) polkit_agent_open();
        return 0;
}

#define IN_SET_ERRNO(x, ...) ({                                 \
        int _x_ = (x), _set_[] = { __VA_ARGS__ };               \
        bool _found_ = false;                                   \
        for (size_t _i_ = 0; _i_ < ELEMENTSOF(_set_); _i_++)    \
                if (_set_[_i_] == _x_)                          \
                        _found_ = true;                         \
        _found_;                                                \
})

int report_bus_error(Context *c, const char *what, const sd_bus_error *error, int r) {
        const char *name = error ? error->name : NULL;

        if (name && (streq(name, SD_BUS_ERROR_SERVICE_UNKNOWN) || startswith(name, "org.freedesktop.DBus.Error.Spawn.") ||
                     streq(name, SD_BUS_ERROR_NAME_HAS_NO_OWNER) || streq(name, SD_BUS_ERROR_NO_REPLY) ||
                     streq(name, SD_BUS_ERROR_DISCONNECTED) || streq(name, SD_BUS_ERROR_TIMEOUT)))
                c->exit_status = EXIT_UNAVAILABLE;
        else if (IN_SET_ERRNO(-r, ENOTCONN, ECONNRESET, ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH) ||
                 (!sd_bus_error_is_set(error) && -r == ENOENT))
                /* The transport failed (also over ssh for --host), whatever name sd-bus gave it. */
                c->exit_status = EXIT_UNAVAILABLE;
        else if (name && (streq(name, SD_BUS_ERROR_ACCESS_DENIED) || streq(name, SD_BUS_ERROR_AUTH_FAILED) ||
                          streq(name, "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired")))
                c->exit_status = EXIT_DENIED;
        else if (name && (startswith(name, "org.bpfhub.Error.NoSuch") ||
                          streq(name, SD_BUS_ERROR_UNKNOWN_OBJECT)))
                c->exit_status = EXIT_NOT_FOUND;
        else
                c->exit_status = EXIT_FAILED;

        if (error && error->message)
                return log_error_errno(r, "%s: %s", what, error->message);
        return log_error_errno(r, "%s: %m", what);
}

static int run(int argc, char *argv[]) {
        static const Verb verbs[] = {
                { "status", VERB_ANY, VERB_ANY, VERB_DEFAULT, verb_status },
                { "load",   2,        VERB_ANY, 0,            verb_load },
                { "attach", 3,        VERB_ANY, 0,            verb_attach },
                { "detach", 2,        2,        0,            verb_detach },
                { "unload", 2,        2,        0,            verb_unload },
                { "list",   VERB_ANY, VERB_ANY, 0,            verb_list },
                { "get",    2,        VERB_ANY, 0,            verb_get },
                { "image",  2,        VERB_ANY, 0,            verb_image },
                {}
        };
        Context c = { .legend = true, .ask_password = true };
        int r;

        (void) setlocale(LC_ALL, "");
        (void) bindtextdomain(GETTEXT_PACKAGE, getenv("BPFHUB_LOCALEDIR") ?: LOCALEDIR);
        (void) bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
        (void) textdomain(GETTEXT_PACKAGE);
        log_setup("bpfhubctl", LOG_TARGET_STDERR);

        r = parse_common_options(argc, argv, &c, /* in_verb= */ false);
        if (r < 0)
                return EXIT_USAGE;
        if (r == 0)
                return EXIT_OK;

        r = dispatch_verb(argc - optind, argv + optind, verbs, &c);
        pager_close();
        polkit_agent_close();
        if (r == -EINVAL && c.exit_status == EXIT_OK)
                return EXIT_USAGE;
        if (r < 0)
                return c.exit_status != EXIT_OK ? c.exit_status : EXIT_FAILED;
        return c.exit_status;
}

int main(int argc, char *argv[]) {
        return run(argc, argv);
}
