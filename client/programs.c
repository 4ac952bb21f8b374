/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* load, attach, detach, unload, list, get: the command lines of bpfman's
 * CLI guide with bpfhubctl in place of bpfman. */
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <time.h>

#include "bpfhubctl.h"
#include "log.h"
#include "pager.h"
#include "table.h"

typedef struct AttachArgs {
        const char *kind;               /* attach kind sent to the daemon */
        const char *iface, *netns, *direction, *mode, *tracepoint, *function, *target, *cgroup, *attach_type;
        char **proceed_on;
        int32_t priority;
        bool priority_set;
        uint64_t offset;
        int32_t pid;
        bool retprobe;
} AttachArgs;

static void attach_args_done(AttachArgs *a) {
        strv_free(a->proceed_on);
}

static int parse_u32(const char *s, uint32_t *ret) {
        char *end;
        unsigned long v;

        errno = 0;
        v = strtoul(s, &end, 0);
        if (errno || !*s || *end || v > UINT32_MAX || s[0] == '-')
                return -EINVAL;
        *ret = (uint32_t) v;
        return 0;
}

static int parse_i32(const char *s, int32_t *ret) {
        char *end;
        long v;

        errno = 0;
        v = strtol(s, &end, 0);
        if (errno || !*s || *end || v < INT32_MIN || v > INT32_MAX)
                return -EINVAL;
        *ret = (int32_t) v;
        return 0;
}

/* Parses the options that follow a program type or attach kind. argv[0]
 * is the type. */
static int parse_attach_args(Context *c, int argc, char *argv[], AttachArgs *a) {
        enum { ARG_PROCEED_ON = 0x100, ARG_NETNS, ARG_MODE, ARG_TRACEPOINT, ARG_PID, ARG_CGROUP, ARG_ATTACH_TYPE };
        static const struct option options[] = {
                { "iface",       required_argument, NULL, 'i' },
                { "priority",    required_argument, NULL, 'p' },
                { "direction",   required_argument, NULL, 'd' },
                { "proceed-on",  required_argument, NULL, ARG_PROCEED_ON },
                { "netns",       required_argument, NULL, ARG_NETNS },
                { "mode",        required_argument, NULL, ARG_MODE },
                { "tracepoint",  required_argument, NULL, ARG_TRACEPOINT },
                { "fn-name",     required_argument, NULL, 'f' },
                { "offset",      required_argument, NULL, 'o' },
                { "target",      required_argument, NULL, 't' },
                { "retprobe",    no_argument,       NULL, 'r' },
                { "pid",         required_argument, NULL, ARG_PID },
                { "cgroup",      required_argument, NULL, ARG_CGROUP },
                { "attach-type", required_argument, NULL, ARG_ATTACH_TYPE },
                COMMON_OPTIONS,
                {}
        };
        const char *type = argv[0];
        int opt, r;

        optind = 0;
        while ((opt = getopt_long(argc, argv, "i:p:d:f:o:t:r", options, NULL)) >= 0) {
                switch (opt) {
                case 'i': a->iface = optarg; break;
                case 'd': a->direction = optarg; break;
                case 'f': a->function = optarg; break;
                case 't': a->target = optarg; break;
                case 'r': a->retprobe = true; break;
                case ARG_NETNS: a->netns = optarg; break;
                case ARG_MODE: a->mode = optarg; break;
                case ARG_TRACEPOINT: a->tracepoint = optarg; break;
                case ARG_CGROUP: a->cgroup = optarg; break;
                case ARG_ATTACH_TYPE: a->attach_type = optarg; break;
                case 'p':
                        if (parse_i32(optarg, &a->priority) < 0)
                                return log_error_errno(EINVAL, _("Invalid priority '%s'."), optarg);
                        a->priority_set = true;
                        break;
                case 'o': {
                        char *end;
                        errno = 0;
                        a->offset = strtoull(optarg, &end, 0);
                        if (errno || !*optarg || *end || optarg[0] == '-')
                                return log_error_errno(EINVAL, _("Invalid offset '%s'."), optarg);
                        break;
                }
                case ARG_PID:
                        if (parse_i32(optarg, &a->pid) < 0 || a->pid < 0)
                                return log_error_errno(EINVAL, _("Invalid pid '%s'."), optarg);
                        break;
                case ARG_PROCEED_ON:
                        r = strv_extend(&a->proceed_on, optarg);
                        if (r < 0)
                                return log_oom();
                        /* bpfman accepts "--proceed-on drop pass": take the words that follow. */
                        while (optind < argc && argv[optind][0] != '-') {
                                r = strv_extend(&a->proceed_on, argv[optind++]);
                                if (r < 0)
                                        return log_oom();
                        }
                        break;
                default:
                        r = common_option(c, opt, optarg);
                        if (r < 0)
                                return r;
                }
        }
        if (optind < argc)
                return log_error_errno(EINVAL, _("Unexpected argument '%s' after '%s'."), argv[optind], type);

        /* Which kind the daemon attaches; checks the required options. */
        if (streq(type, "xdp") || streq(type, "tc") || streq(type, "tcx")) {
                a->kind = type;
                if (!a->iface)
                        return log_error_errno(EINVAL, _("'%s' needs --iface."), type);
                if (!a->priority_set)
                        return log_error_errno(EINVAL, _("'%s' needs --priority (1-1000, lower runs first)."), type);
                if (!streq(type, "xdp") && !a->direction)
                        return log_error_errno(EINVAL, _("'%s' needs --direction ingress or egress."), type);
        } else if (streq(type, "tracepoint")) {
                a->kind = type;
                if (!a->tracepoint)
                        return log_error_errno(EINVAL, _("'tracepoint' needs --tracepoint GROUP/NAME."));
        } else if (streq(type, "kprobe")) {
                a->kind = a->retprobe ? "kretprobe" : "kprobe";
                if (!a->function)
                        return log_error_errno(EINVAL, _("'kprobe' needs --fn-name."));
        } else if (streq(type, "uprobe")) {
                a->kind = a->retprobe ? "uretprobe" : "uprobe";
                if (!a->target)
                        return log_error_errno(EINVAL, _("'uprobe' needs --target (a binary or a library such as libc)."));
                if (!a->function && a->offset == 0)
                        return log_error_errno(EINVAL, _("'uprobe' needs --fn-name or --offset."));
        } else if (streq(type, "fentry") || streq(type, "fexit")) {
                a->kind = type;
                if (!a->function)
                        return log_error_errno(EINVAL, _("'%s' needs --fn-name."), type);
        } else if (streq(type, "cgroup")) {
                a->kind = type;
                if (!a->cgroup || !a->attach_type)
                        return log_error_errno(EINVAL, _("'cgroup' needs --cgroup PATH and --attach-type TYPE."));
        } else
                return log_error_errno(EINVAL, _("Unknown program type '%s' (xdp, tc, tcx, tracepoint, kprobe, "
                                                 "uprobe, fentry, fexit, cgroup)."), type);
        return 0;
}

static int append_sv(sd_bus_message *m, const char *key, const char *sig, ...) {
        va_list ap;
        int r;

        r = sd_bus_message_open_container(m, 'e', "sv");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "s", key);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'v', sig);
        if (r < 0)
                return r;
        va_start(ap, sig);
        r = sd_bus_message_appendv(m, sig, ap);
        va_end(ap);
        if (r < 0)
                return r;
        r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(m);
}

/* key → as */
static int append_strv_option(sd_bus_message *m, const char *key, char **l) {
        int r = sd_bus_message_open_container(m, 'e', "sv");

        if (r >= 0)
                r = sd_bus_message_append(m, "s", key);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'v', "as");
        if (r >= 0)
                r = sd_bus_message_append_strv(m, l);
        for (int i = 0; i < 2 && r >= 0; i++)
                r = sd_bus_message_close_container(m);
        return r;
}

/* key → a{ss} from "k=v" strings */
static int append_kv_option(sd_bus_message *m, const char *key, char **l) {
        int r = sd_bus_message_open_container(m, 'e', "sv");

        if (r >= 0)
                r = sd_bus_message_append(m, "s", key);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'v', "a{ss}");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "{ss}");
        STRV_FOREACH(kv, l) {
                _cleanup_free_ char *k = strndup(*kv, strcspn(*kv, "="));
                if (r >= 0)
                        r = k ? sd_bus_message_append(m, "{ss}", k, strchr(*kv, '=') + 1) : -ENOMEM;
        }
        for (int i = 0; i < 3 && r >= 0; i++)
                r = sd_bus_message_close_container(m);
        return r;
}

static int append_attach_options(sd_bus_message *m, const AttachArgs *a) {
        const struct { const char *key, *value; } strings[] = {
                { "iface", a->iface }, { "netns", a->netns }, { "direction", a->direction }, { "mode", a->mode },
                { "tracepoint", a->tracepoint }, { "target", a->target }, { "cgroup", a->cgroup },
                { "attach_type", a->attach_type },
                /* fentry/fexit name their function at load time. */
                { "function", streq(a->kind, "fentry") || streq(a->kind, "fexit") ? NULL : a->function },
        };
        int r;

        r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(strings); i++)
                if (strings[i].value && (r = append_sv(m, strings[i].key, "s", strings[i].value)) < 0)
                        return r;
        if (a->priority_set && (r = append_sv(m, "priority", "i", a->priority)) < 0)
                return r;
        if (a->offset && (r = append_sv(m, "offset", "t", a->offset)) < 0)
                return r;
        if (a->pid && (r = append_sv(m, "pid", "i", a->pid)) < 0)
                return r;
        if (a->proceed_on && (r = append_strv_option(m, "proceed_on", a->proceed_on)) < 0)
                return r;
        return sd_bus_message_close_container(m);
}

static int call_attach(Context *c, sd_bus *bus, uint32_t program_id, const AttachArgs *a, uint32_t *ret_link) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH, BPFHUB_MANAGER_INTERFACE, "Attach");
        if (r < 0)
                return log_oom();
        r = sd_bus_message_append(m, "us", program_id, a->kind);
        if (r >= 0)
                r = append_attach_options(m, a);
        if (r < 0)
                return log_error_errno(r, _("Failed to build the request: %m"));
        r = sd_bus_call(bus, m, 0, &error, &reply);
        if (r < 0)
                return report_bus_error(c, _("Failed to attach"), &error, r);
        return sd_bus_message_read(reply, "uo", ret_link, NULL);
}

char *format_time(uint64_t usec, char *buf, size_t size) {
        time_t t = (time_t) (usec / 1000000);
        struct tm tm;

        if (usec == 0 || !localtime_r(&t, &tm) || strftime(buf, size, "%Y-%m-%dT%H:%M:%S%z", &tm) == 0)
                (void) snprintf(buf, size, "-");
        return buf;
}

int call_json(Context *c, sd_bus *bus, const char *method, const char *what, json_object **ret,
                     const char *types, ...) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        const char *text;
        va_list ap;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH, BPFHUB_MANAGER_INTERFACE, method);
        if (r < 0)
                return log_oom();
        va_start(ap, types);
        r = sd_bus_message_appendv(m, types, ap);
        va_end(ap);
        if (r < 0)
                return log_error_errno(r, _("Failed to build the request: %m"));
        r = sd_bus_call(bus, m, 0, &error, &reply);
        if (r < 0)
                return report_bus_error(c, what, &error, r);
        r = sd_bus_message_read(reply, "s", &text);
        if (r < 0)
                return report_bus_error(c, what, NULL, r);
        *ret = json_tokener_parse(text);
        if (!*ret) {
                c->exit_status = EXIT_FAILED;
                return log_error_errno(EBADMSG, "%s", _("bpfhubd sent invalid JSON."));
        }
        return 0;
}

void print_json(Context *c, json_object *j) {
        printf("%s\n", json_object_to_json_string_ext(j, JSON_C_TO_STRING_NOSLASHESCAPE |
                       (c->json == JSON_PRETTY ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED : JSON_C_TO_STRING_PLAIN)));
}

/* Labels are padded by display width: translated labels may be CJK. */
void print_field(const char *label, const char *value) {
        size_t w = display_width(label);

        printf(" %s%*s %s\n", label, w < 33 ? (int) (33 - w) : 0, "", value && *value ? value : _("None"));
}

char *join_array(json_object *a, const char *sep) {
        size_t n = a && json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
        char *s = strdup("");

        for (size_t i = 0; s && i < n; i++) {
                const char *item = json_object_get_string(json_object_array_get_idx(a, i));
                char *t = strjoin(s, i > 0 ? sep : "", item);
                free(s);
                s = t;
        }
        return s;
}

/* The "Bpfhub State" and "Kernel State" tables of `get` and `load`. */
static void print_program(json_object *j) {
        json_object *rec = json_get(j, "bpfhub"), *kernel = json_get(j, "kernel"), *links = json_get(rec, "links");
        char buf[64];
        _cleanup_free_ char *globals = join_array(json_get(rec, "globals"), ", ");
        _cleanup_free_ char *metadata = join_array(json_get(rec, "metadata"), ", ");
        _cleanup_free_ char *maps = join_array(json_get(kernel, "mapIds"), ", ");
        size_t n_links = links ? json_object_array_length(links) : 0;

        printf(" %s\n---------------\n", _("Bpfhub State"));
        if (!rec)
                printf("%s\n", _("NONE"));
        else {
                (void) snprintf(buf, sizeof buf, "%" PRIu64, json_object_get_uint64(json_get(rec, "mapOwnerId")));
                print_field(_("Name:"), json_str(rec, "name"));
                print_field(_("Type:"), json_str(rec, "type"));
                if (json_str(rec, "imageDigest")) {
                        print_field(_("Image URL:"), json_str(rec, "path"));
                        print_field(_("Image Digest:"), json_str(rec, "imageDigest"));
                } else
                        print_field(_("Path:"), json_str(rec, "path"));
                print_field(_("Application:"), json_str(rec, "group"));
                print_field(_("Global:"), globals);
                print_field(_("Metadata:"), metadata);
                print_field(_("Map Owner ID:"), buf);
                print_field(_("Loaded At:"), format_time(json_object_get_uint64(json_get(rec, "loadedUSec")), buf, sizeof buf));
                for (size_t i = 0; i < n_links; i++) {
                        json_object *l = json_object_array_get_idx(links, i);
                        const char *kind = json_str(l, "kind");
                        _cleanup_free_ char *po = join_array(json_get(l, "proceedOn"), ", ");

                        (void) snprintf(buf, sizeof buf, "%" PRIu64 " (%s)", json_object_get_uint64(json_get(l, "id")), strna(kind));
                        print_field(_("Link:"), buf);
                        if (json_str(l, "interface")) {
                                print_field(_("  Iface:"), json_str(l, "interface"));
                                (void) snprintf(buf, sizeof buf, "%d", json_object_get_int(json_get(l, "priority")));
                                print_field(_("  Priority:"), buf);
                        }
                        if (json_str(l, "direction"))
                                print_field(_("  Direction:"), json_str(l, "direction"));
                        if (json_get(l, "position")) {
                                (void) snprintf(buf, sizeof buf, "%" PRIu64, json_object_get_uint64(json_get(l, "position")));
                                print_field(_("  Position:"), buf);
                        }
                        if (json_str(l, "modeUsed"))
                                print_field(_("  Mode:"), json_str(l, "modeUsed"));
                        if (json_str(l, "netns"))
                                print_field(_("  Network Namespace:"), json_str(l, "netns"));
                        if (po && *po)
                                print_field(_("  Proceed On:"), po);
                        if (json_str(l, "tracepoint"))
                                print_field(_("  Tracepoint:"), json_str(l, "tracepoint"));
                        if (json_str(l, "function"))
                                print_field(_("  Function:"), json_str(l, "function"));
                        if (json_str(l, "target"))
                                print_field(_("  Target:"), json_str(l, "target"));
                        if (json_str(l, "cgroup")) {
                                print_field(_("  Cgroup:"), json_str(l, "cgroup"));
                                print_field(_("  Attach Type:"), json_str(l, "attachType"));
                        }
                }
        }

        printf("\n %s\n----------------------------------\n", _("Kernel State"));
        if (!kernel) {
                printf("%s\n", _("NONE"));
                return;
        }
        (void) snprintf(buf, sizeof buf, "%" PRIu64, json_object_get_uint64(json_get(kernel, "id")));
        print_field(_("Program ID:"), buf);
        print_field(_("Name:"), json_str(kernel, "name"));
        print_field(_("Type:"), json_str(kernel, "type"));
        print_field(_("Loaded At:"), format_time(json_object_get_uint64(json_get(kernel, "loadedAtUSec")), buf, sizeof buf));
        print_field(_("Tag:"), json_str(kernel, "tag"));
        print_field(_("GPL Compatible:"), json_object_get_boolean(json_get(kernel, "gpl")) ? "true" : "false");
        {
                _cleanup_free_ char *bracketed = strjoin("[", strempty(maps), "]");
                print_field(_("Map IDs:"), bracketed);
        }
        (void) snprintf(buf, sizeof buf, "%" PRIu64, json_object_get_uint64(json_get(kernel, "btfId")));
        print_field(_("BTF ID:"), buf);
        (void) snprintf(buf, sizeof buf, "%" PRIu64, json_object_get_uint64(json_get(kernel, "translatedBytes")));
        print_field(_("Size Translated (bytes):"), buf);
        print_field(_("JITed:"), json_object_get_uint64(json_get(kernel, "jitedBytes")) > 0 ? "true" : "false");
        (void) snprintf(buf, sizeof buf, "%" PRIu64, json_object_get_uint64(json_get(kernel, "jitedBytes")));
        print_field(_("Size JITed (bytes):"), buf);
        (void) snprintf(buf, sizeof buf, "%" PRId64, json_object_get_int64(json_get(kernel, "memlockBytes")));
        print_field(_("Kernel Allocated Memory (bytes):"), buf);
        (void) snprintf(buf, sizeof buf, "%" PRIu64, json_object_get_uint64(json_get(kernel, "verifiedInstructions")));
        print_field(_("Verified Instruction Count:"), buf);
}

static int show_program(Context *c, sd_bus *bus, uint32_t id) {
        json_object *j = NULL;
        int r;

        r = call_json(c, bus, "GetProgram", _("Failed to get the program"), &j, "u", id);
        if (r < 0)
                return r;
        if (c->json != JSON_OFF)
                print_json(c, j);
        else
                print_program(j);
        json_object_put(j);
        return 0;
}

static int parse_id_arg(const char *s, const char *what, uint32_t *ret) {
        if (parse_u32(s, ret) < 0 || *ret == 0)
                return log_error_errno(EINVAL, _("Invalid %s '%s': expected a positive number."), what, s);
        return 0;
}

int verb_load(int argc, char *argv[], void *userdata) {
        enum { ARG_MAP_OWNER_ID = 0x100, ARG_APPLICATION };
        static const struct option file_options[] = {
                { "path",         required_argument, NULL, 'p' },
                { "name",         required_argument, NULL, 'n' },
                { "global",       required_argument, NULL, 'g' },
                { "metadata",     required_argument, NULL, 'm' },
                { "map-owner-id", required_argument, NULL, ARG_MAP_OWNER_ID },
                { "application",  required_argument, NULL, ARG_APPLICATION },
                {}
        };
        /* As bpfman's CLI has it: in "load image", -p is the pull policy. */
        static const struct option image_options[] = {
                { "image-url",     required_argument, NULL, 'i' },
                { "registry-auth", required_argument, NULL, 'r' },
                { "pull-policy",   required_argument, NULL, 'p' },
                { "name",          required_argument, NULL, 'n' },
                { "global",        required_argument, NULL, 'g' },
                { "metadata",      required_argument, NULL, 'm' },
                { "map-owner-id",  required_argument, NULL, ARG_MAP_OWNER_ID },
                { "application",   required_argument, NULL, ARG_APPLICATION },
                {}
        };
        Context *c = ASSERT_PTR(userdata);
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_strv_free_ char **globals = NULL, **metadata = NULL;
        _cleanup_(attach_args_done) AttachArgs attach = {};
        _cleanup_free_ char *abs_path = NULL;
        const char *path = NULL, *name = NULL, *application = NULL, *type, *image = NULL, *auth = NULL, *policy = NULL;
        uint32_t map_owner = 0, id, link_id;
        bool from_image;
        int opt, r;

        if (argc < 2 || (!streq(argv[1], "file") && !streq(argv[1], "image")))
                return log_error_errno(EINVAL, "%s", _("Usage: load file --path PATH --name NAME [OPTIONS] TYPE [TYPE OPTIONS]\n"
                                                      "       load image --image-url REF --name NAME [OPTIONS] TYPE [TYPE OPTIONS]"));
        from_image = streq(argv[1], "image");

        optind = 0;
        while ((opt = getopt_long(argc - 1, argv + 1, from_image ? "+i:r:p:n:g:m:" : "+p:n:g:m:",
                                  from_image ? image_options : file_options, NULL)) >= 0) {
                switch (opt) {
                case 'p':
                        if (from_image)
                                policy = optarg;
                        else
                                path = optarg;
                        break;
                case 'i': image = optarg; break;
                case 'r': auth = optarg; break;
                case 'n': name = optarg; break;
                case 'g':
                        if (strv_extend(&globals, optarg) < 0)
                                return log_oom();
                        break;
                case 'm':
                        if (!strchr(optarg, '=') || optarg[0] == '=')
                                return log_error_errno(EINVAL, _("Metadata must be KEY=VALUE, got '%s'."), optarg);
                        if (strv_extend(&metadata, optarg) < 0)
                                return log_oom();
                        break;
                case ARG_MAP_OWNER_ID:
                        r = parse_id_arg(optarg, _("map owner id"), &map_owner);
                        if (r < 0)
                                return r;
                        break;
                case ARG_APPLICATION: application = optarg; break;
                case '?': return -EINVAL;
                default: abort();
                }
        }
        if (from_image && (!image || !name))
                return log_error_errno(EINVAL, "%s", _("'load image' needs --image-url and --name."));
        if (!from_image && (!path || !name))
                return log_error_errno(EINVAL, "%s", _("'load file' needs --path and --name."));
        if (optind + 1 >= argc)
                return log_error_errno(EINVAL, "%s", _("'load' needs a program type: xdp, tc, tcx, tracepoint, kprobe, uprobe, fentry, fexit or cgroup."));

        type = argv[1 + optind]; /* parse_attach_args() reuses optind */
        r = parse_attach_args(c, argc - 1 - optind, argv + 1 + optind, &attach);
        if (r < 0)
                return r;
        /* The daemon reads the file (or OCI layout): give it an absolute path. */
        if (!from_image) {
                abs_path = path[0] == '/' ? strdup(path) : realpath(path, NULL);
                if (!abs_path)
                        return log_error_errno(errno, _("Cannot find %s: %m"), path);
        } else {
                r = image_source_absolute(image, &abs_path);
                if (r < 0)
                        return r;
        }

        r = acquire_bus(c, &bus);
        if (r < 0)
                return r;
        r = sd_bus_message_new_method_call(bus, &m, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH, BPFHUB_MANAGER_INTERFACE, "Load");
        if (r >= 0)
                r = sd_bus_message_append(m, "sa(sss)", abs_path, 1, name, type,
                                          streq(attach.kind, "fentry") || streq(attach.kind, "fexit") ? attach.function : "");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0 && globals)
                r = append_strv_option(m, "globals", globals);
        if (r >= 0 && metadata)
                r = append_kv_option(m, "metadata", metadata);
        if (r >= 0 && application)
                r = append_sv(m, "group", "s", application);
        if (r >= 0 && map_owner)
                r = append_sv(m, "map_owner_id", "u", map_owner);
        if (r >= 0 && policy)
                r = append_sv(m, "pull_policy", "s", policy);
        if (r >= 0 && auth)
                r = append_sv(m, "registry_auth", "s", auth);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r < 0)
                return log_error_errno(r, _("Failed to build the request: %m"));

        /* A load from an image may pull it first. */
        r = sd_bus_call(bus, m, from_image ? IMAGE_CALL_TIMEOUT_USEC : 0, &error, &reply);
        if (r < 0)
                return report_bus_error(c, _("Failed to load"), &error, r);
        r = sd_bus_message_read(reply, "a(uo)", 1, &id, NULL);
        if (r < 0)
                return report_bus_error(c, _("Failed to parse the reply of bpfhubd"), NULL, r);

        /* Load and attach are one step for the user: undo the load if the
         * attach fails. */
        r = call_attach(c, bus, id, &attach, &link_id);
        if (r < 0) {
                sd_bus_error_free(&error);
                (void) sd_bus_call_method(bus, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH, BPFHUB_MANAGER_INTERFACE, "Unload",
                                          &error, NULL, "u", id);
                return r;
        }
        return show_program(c, bus, id);
}

int verb_attach(int argc, char *argv[], void *userdata) {
        Context *c = ASSERT_PTR(userdata);
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(attach_args_done) AttachArgs a = {};
        uint32_t id, link_id;
        int r;

        r = parse_id_arg(argv[1], _("program id"), &id);
        if (r < 0)
                return r;
        r = parse_attach_args(c, argc - 2, argv + 2, &a);
        if (r < 0)
                return r;
        r = acquire_bus(c, &bus);
        if (r < 0)
                return r;
        r = call_attach(c, bus, id, &a, &link_id);
        if (r < 0)
                return r;
        if (c->json != JSON_OFF)
                printf(c->json == JSON_PRETTY ? "{\n  \"linkId\" : %" PRIu32 "\n}\n" : "{\"linkId\":%" PRIu32 "}\n", link_id);
        else
                printf(_("Attached program %" PRIu32 " as link %" PRIu32 ".\n"), id, link_id);
        return 0;
}

static int simple_call(Context *c, const char *id_arg, const char *what, const char *method, const char *failure) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        uint32_t id;
        int r;

        r = parse_id_arg(id_arg, what, &id);
        if (r < 0)
                return r;
        r = acquire_bus(c, &bus);
        if (r < 0)
                return r;
        r = sd_bus_call_method(bus, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH, BPFHUB_MANAGER_INTERFACE, method, &error,
                               NULL, "u", id);
        if (r < 0)
                return report_bus_error(c, failure, &error, r);
        return 0;
}

int verb_detach(int argc, char *argv[], void *userdata) {
        return simple_call(ASSERT_PTR(userdata), argv[1], _("link id"), "Detach", _("Failed to detach"));
}

int verb_unload(int argc, char *argv[], void *userdata) {
        return simple_call(ASSERT_PTR(userdata), argv[1], _("program id"), "Unload", _("Failed to unload"));
}

int verb_get(int argc, char *argv[], void *userdata) {
        Context *c = ASSERT_PTR(userdata);
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        uint32_t id;
        int r;

        r = parse_common_options(argc, argv, c, /* in_verb= */ true);
        if (r <= 0)
                return r;
        if (optind + 1 != argc)
                return log_error_errno(EINVAL, "%s", _("Usage: get PROGRAM_ID"));
        r = parse_id_arg(argv[optind], _("program id"), &id);
        if (r < 0)
                return r;
        r = acquire_bus(c, &bus);
        if (r < 0)
                return r;
        (void) pager_open(c->no_pager || c->json != JSON_OFF);
        return show_program(c, bus, id);
}

/* list --iface: what runs on the interface's hooks, in order. */
static int print_hooks(Context *c, json_object *list, const char **headers, size_t n_headers) {
        _cleanup_(table_freep) Table *t = table_new(n_headers, headers);
        int r = 0;

        if (!t)
                return log_oom();
        for (size_t i = 0; r >= 0 && i < json_object_array_length(list); i++) {
                json_object *e = json_object_array_get_idx(list, i), *rec = json_get(e, "bpfhub"),
                            *kernel = json_get(e, "kernel");
                bool managed = json_object_get_boolean(json_get(e, "managed"));
                char id[16], pos[16];
                /* XDP programs under libxdp's dispatcher say so. */
                _cleanup_free_ char *hook = json_str(e, "mode") ? strjoin(json_str(e, "hook"), " (", json_str(e, "mode"),
                                                                          json_get(e, "dispatcherId") ? _(", dispatcher") : "", ")")
                                                                : strdup(strna(json_str(e, "hook")));

                (void) snprintf(id, sizeof id, "%" PRIu64, json_object_get_uint64(json_get(e, "id")));
                (void) snprintf(pos, sizeof pos, "%" PRIu64, json_object_get_uint64(json_get(e, "position")));
                r = hook ? table_add_cell(t, hook, CELL_PLAIN) : -ENOMEM;
                if (r >= 0)
                        r = table_add_cell(t, pos, CELL_PLAIN);
                if (r >= 0)
                        r = table_add_cell(t, id, CELL_PLAIN);
                if (r >= 0)
                        r = table_add_cell(t, rec ? json_str(rec, "name") : json_str(kernel, "name"), CELL_PLAIN);
                if (r >= 0)
                        r = table_add_cell(t, rec ? json_str(rec, "type") : json_str(kernel, "type"), CELL_PLAIN);
                if (r >= 0)
                        r = table_add_cell(t, managed ? _("yes") : _("no"), managed ? CELL_GOOD : CELL_PLAIN);
        }
        if (r < 0)
                return log_oom();
        (void) pager_open(c->no_pager);
        return table_print(t, stdout, c->legend, c->colors);
}

int verb_list(int argc, char *argv[], void *userdata) {
        enum { ARG_PROGRAM_TYPE = 0x100, ARG_METADATA_SELECTOR, ARG_APPLICATION, ARG_IFACE, ARG_NETNS };
        static const struct option options[] = {
                { "all",               no_argument,       NULL, 'a' },
                { "iface",             required_argument, NULL, ARG_IFACE },
                { "netns",             required_argument, NULL, ARG_NETNS },
                { "program-type",      required_argument, NULL, ARG_PROGRAM_TYPE },
                { "metadata-selector", required_argument, NULL, ARG_METADATA_SELECTOR },
                { "application",       required_argument, NULL, ARG_APPLICATION },
                COMMON_OPTIONS,
                {}
        };
        Context *c = ASSERT_PTR(userdata);
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_strv_free_ char **selectors = NULL;
        _cleanup_(table_freep) Table *t = NULL;
        const char *type = NULL, *application = NULL, *iface = NULL, *netns = NULL;
        const char *headers[] = { _("Program ID"), _("Name"), _("Type"), _("Load Time") };
        const char *hook_headers[] = { _("Hook"), _("Position"), _("Program ID"), _("Name"), _("Type"), _("Managed") };
        bool all = false;
        json_object *list = NULL;
        int opt, r;

        optind = 0;
        while ((opt = getopt_long(argc, argv, "a", options, NULL)) >= 0) {
                switch (opt) {
                case 'a': all = true; break;
                case ARG_PROGRAM_TYPE: type = optarg; break;
                case ARG_APPLICATION: application = optarg; break;
                case ARG_IFACE: iface = optarg; break;
                case ARG_NETNS: netns = optarg; break;
                case ARG_METADATA_SELECTOR:
                        if (!strchr(optarg, '=') || optarg[0] == '=')
                                return log_error_errno(EINVAL, _("A metadata selector must be KEY=VALUE, got '%s'."), optarg);
                        if (strv_extend(&selectors, optarg) < 0)
                                return log_oom();
                        break;
                default:
                        r = common_option(c, opt, optarg);
                        if (r < 0)
                                return r;
                }
        }
        if (optind < argc)
                return log_error_errno(EINVAL, _("'list' takes no arguments, got '%s'."), argv[optind]);

        r = acquire_bus(c, &bus);
        if (r < 0)
                return r;
        r = sd_bus_message_new_method_call(bus, &m, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH, BPFHUB_MANAGER_INTERFACE,
                                           "ListPrograms");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0 && all)
                r = append_sv(m, "all", "b", 1);
        if (r >= 0 && type)
                r = append_sv(m, "type", "s", type);
        if (r >= 0 && application)
                r = append_sv(m, "group", "s", application);
        if (r >= 0 && selectors)
                r = append_kv_option(m, "metadata", selectors);
        if (r >= 0 && iface)
                r = append_sv(m, "iface", "s", iface);
        if (r >= 0 && netns)
                r = append_sv(m, "netns", "s", netns);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r < 0)
                return log_error_errno(r, _("Failed to build the request: %m"));
        {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
                const char *text;
                r = sd_bus_call(bus, m, 0, &error, &reply);
                if (r < 0)
                        return report_bus_error(c, _("Failed to list programs"), &error, r);
                r = sd_bus_message_read(reply, "s", &text);
                if (r < 0)
                        return report_bus_error(c, _("Failed to parse the reply of bpfhubd"), NULL, r);
                list = json_tokener_parse(text);
        }
        if (!list || !json_object_is_type(list, json_type_array)) {
                json_object_put(list);
                c->exit_status = EXIT_FAILED;
                return log_error_errno(EBADMSG, "%s", _("bpfhubd sent invalid JSON."));
        }
        if (c->json != JSON_OFF) {
                print_json(c, list);
                json_object_put(list);
                return 0;
        }

        if (iface) {
                r = print_hooks(c, list, hook_headers, ELEMENTSOF(hook_headers));
                json_object_put(list);
                return r;
        }

        t = table_new(ELEMENTSOF(headers), headers);
        if (!t) {
                json_object_put(list);
                return log_oom();
        }
        for (size_t i = 0; i < json_object_array_length(list); i++) {
                json_object *e = json_object_array_get_idx(list, i), *rec = json_get(e, "bpfhub"),
                            *kernel = json_get(e, "kernel");
                char id[16], when[64];

                (void) snprintf(id, sizeof id, "%" PRIu64, json_object_get_uint64(json_get(e, "id")));
                r = table_add_cell(t, id, CELL_PLAIN);
                if (r >= 0)
                        r = table_add_cell(t, rec ? json_str(rec, "name") : json_str(kernel, "name"), CELL_PLAIN);
                /* With --all the kernel's type names, as bpftool and bpfman show them. */
                if (r >= 0)
                        r = table_add_cell(t, all || !rec ? json_str(kernel, "type") : json_str(rec, "type"), CELL_PLAIN);
                if (r >= 0)
                        r = table_add_cell(t, format_time(rec ? json_object_get_uint64(json_get(rec, "loadedUSec"))
                                                              : json_object_get_uint64(json_get(kernel, "loadedAtUSec")),
                                                          when, sizeof when), CELL_PLAIN);
                if (r < 0) {
                        json_object_put(list);
                        return log_oom();
                }
        }
        json_object_put(list);
        (void) pager_open(c->no_pager);
        return table_print(t, stdout, c->legend, false);
}
