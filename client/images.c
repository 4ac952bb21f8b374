/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>
#include <inttypes.h>
#include <unistd.h>

#include "bpfhubctl.h"
#include "log.h"
#include "pager.h"
#include "table.h"

#define TRANSFER_INTERFACE "org.bpfhub.Transfer1"

int image_source_absolute(const char *source, char **ret) {
        const char *rest = startswith(source, "oci:");
        _cleanup_free_ char *dir = NULL, *absolute = NULL;
        const char *colon;

        if (!rest || rest[0] == '/') {
                *ret = strdup(source);
                return *ret ? 0 : log_oom();
        }
        colon = strchr(rest, ':');
        dir = colon ? strndup(rest, (size_t) (colon - rest)) : strdup(rest);
        if (!dir)
                return log_oom();
        absolute = realpath(dir, NULL);
        if (!absolute)
                return log_error_errno(errno, _("Cannot find the OCI layout %s: %m"), dir);
        *ret = strjoin("oci:", absolute, colon ? colon : "");
        return *ret ? 0 : log_oom();
}

static void format_bytes(uint64_t n, char *buf, size_t size) {
        if (n >= 1024 * 1024)
                (void) snprintf(buf, size, "%.1f MiB", (double) n / (1024.0 * 1024.0));
        else if (n >= 1024)
                (void) snprintf(buf, size, "%.1f KiB", (double) n / 1024.0);
        else
                (void) snprintf(buf, size, "%" PRIu64 " B", n);
}

typedef struct TransferWatch {
        const char *path;
        bool finished;
        bool daemon_gone;
        char *state, *digest, *error_name, *error_message;
        uint64_t done, total;
        bool tty;
        uint64_t last_printed;
} TransferWatch;

static void transfer_watch_done(TransferWatch *w) {
        free(w->state);
        free(w->digest);
        free(w->error_name);
        free(w->error_message);
}

static void show_progress(TransferWatch *w) {
        char done[32], total[32];

        format_bytes(w->done, done, sizeof done);
        format_bytes(w->total, total, sizeof total);
        if (w->tty) {
                unsigned width = 30, filled = w->total ? (unsigned) (w->done * width / w->total) : 0;
                char bar[64];
                for (unsigned i = 0; i < width; i++)
                        bar[i] = i < filled ? '#' : '.';
                bar[width] = '\0';
                fprintf(stderr, "\r[%s] %s / %s ", bar, done, total);
        } else if (w->done != w->last_printed && (w->done == w->total || w->done - w->last_printed >= 256 * 1024)) {
                /* Plain lines when not on a terminal, at most one per 256 KiB. */
                fprintf(stderr, _("Downloaded %s of %s\n"), done, total);
                w->last_printed = w->done;
        }
}

static int on_transfer_signal(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        TransferWatch *w = userdata;
        const char *state, *digest, *name, *message;

        if (!streq_ptr(sd_bus_message_get_path(m), w->path))
                return 0;
        if (sd_bus_message_is_signal(m, TRANSFER_INTERFACE, "Finished")) {
                if (sd_bus_message_read(m, "ssss", &state, &digest, &name, &message) < 0)
                        return 0;
                w->state = strdup(state);
                w->digest = strdup(digest);
                w->error_name = strdup(name);
                w->error_message = strdup(message);
                w->finished = true;
                return 0;
        }
        if (sd_bus_message_is_signal(m, TRANSFER_INTERFACE, "Progress") &&
            sd_bus_message_read(m, "tt", &w->done, &w->total) >= 0)
                show_progress(w);
        return 0;
}

static int on_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        TransferWatch *w = userdata;
        const char *name, *old_owner, *new_owner;

        if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) >= 0 && streq(name, BPFHUB_BUS_NAME) &&
            isempty(new_owner))
                w->daemon_gone = true;
        return 0;
}

/* Waits for the transfer's Finished signal (the matches were added before
 * the call that created it, so it cannot be missed). */
static int wait_transfer(Context *c, sd_bus *bus, TransferWatch *w) {
        int r;

        while (!w->finished) {
                if (w->daemon_gone) {
                        c->exit_status = EXIT_UNAVAILABLE;
                        return log_error_errno(ECONNRESET, "%s", _("bpfhubd went away before the transfer finished."));
                }
                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        return log_error_errno(r, _("Lost the connection to bpfhubd: %m"));
                if (r > 0)
                        continue;
                r = sd_bus_wait(bus, UINT64_MAX);
                if (r < 0)
                        return log_error_errno(r, _("Lost the connection to bpfhubd: %m"));
        }
        if (w->tty && w->total > 0)
                fputc('\n', stderr);
        return 0;
}

static int image_pull(Context *c, int argc, char *argv[]) {
        static const struct option options[] = {
                { "image-url",     required_argument, NULL, 'i' },
                { "registry-auth", required_argument, NULL, 'r' },
                { "pull-policy",   required_argument, NULL, 'p' },
                COMMON_OPTIONS,
                {}
        };
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(transfer_watch_done) TransferWatch w = { .tty = isatty(STDERR_FILENO) };
        _cleanup_free_ char *source = NULL;
        const char *image = NULL, *auth = NULL, *policy = NULL, *path;
        uint32_t id;
        int opt, r;

        optind = 0;
        while ((opt = getopt_long(argc, argv, "i:r:p:", options, NULL)) >= 0) {
                switch (opt) {
                case 'i': image = optarg; break;
                case 'r': auth = optarg; break;
                case 'p': policy = optarg; break;
                default:
                        r = common_option(c, opt, optarg);
                        if (r < 0)
                                return r;
                }
        }
        if (!image && optind < argc)
                image = argv[optind++];
        if (!image || optind < argc)
                return log_error_errno(EINVAL, "%s", _("Usage: image pull --image-url REF [--registry-auth B64] [--pull-policy Always|IfNotPresent|Never]"));
        r = image_source_absolute(image, &source);
        if (r < 0)
                return r;

        r = acquire_bus(c, &bus);
        if (r < 0)
                return r;
        r = sd_bus_match_signal(bus, NULL, BPFHUB_BUS_NAME, NULL, TRANSFER_INTERFACE, "Finished", on_transfer_signal, &w);
        if (r >= 0)
                r = sd_bus_match_signal(bus, NULL, BPFHUB_BUS_NAME, NULL, TRANSFER_INTERFACE, "Progress",
                                        on_transfer_signal, &w);
        if (r >= 0)
                r = sd_bus_match_signal(bus, NULL, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                        "NameOwnerChanged", on_owner_changed, &w);
        if (r < 0)
                return log_error_errno(r, _("Failed to watch transfers: %m"));

        r = sd_bus_message_new_method_call(bus, &m, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH, BPFHUB_MANAGER_INTERFACE,
                                           "PullImage");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", source);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0 && policy)
                r = sd_bus_message_append(m, "{sv}", "pull_policy", "s", policy);
        if (r >= 0 && auth)
                r = sd_bus_message_append(m, "{sv}", "registry_auth", "s", auth);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r < 0)
                return log_error_errno(r, _("Failed to build the request: %m"));
        r = sd_bus_call(bus, m, 0, &error, &reply);
        if (r < 0)
                return report_bus_error(c, _("Failed to pull"), &error, r);
        r = sd_bus_message_read(reply, "uo", &id, &path);
        if (r < 0)
                return report_bus_error(c, _("Failed to parse the reply of bpfhubd"), NULL, r);
        w.path = path;
        r = wait_transfer(c, bus, &w);
        if (r < 0)
                return r;
        if (!streq_ptr(w.state, "done")) {
                sd_bus_error e = SD_BUS_ERROR_MAKE_CONST(w.error_name, w.error_message);
                return report_bus_error(c, _("Failed to pull"), &e, -EIO);
        }
        if (c->json != JSON_OFF) {
                json_object *j = json_object_new_object();
                json_object_object_add(j, "reference", json_object_new_string(source));
                json_object_object_add(j, "digest", json_object_new_string(w.digest));
                json_object_object_add(j, "transfer", json_object_new_int64(id));
                print_json(c, j);
                json_object_put(j);
        } else
                printf(_("Successfully downloaded bytecode: %s (%s)\n"), source, w.digest);
        return 0;
}

static json_object *pairs_keys(json_object *o) {
        json_object *a = json_object_new_array();
        if (o && json_object_is_type(o, json_type_object)) {
                json_object_object_foreach(o, k, v) {
                        (void) v;
                        json_object_array_add(a, json_object_new_string(k));
                }
        }
        return a;
}

static char *join_keys(json_object *o) {
        json_object *keys = pairs_keys(o);
        char *s = join_array(keys, ", ");

        json_object_put(keys);
        return s;
}

static int image_list(Context *c, int argc, char *argv[]) {
        static const struct option options[] = { COMMON_OPTIONS, {} };
        const char *headers[] = { _("Reference"), _("Digest"), _("Format"), _("Size"), _("Pulled"), _("Used By") };
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(table_freep) Table *t = NULL;
        json_object *list = NULL;
        int opt, r;

        optind = 0;
        while ((opt = getopt_long(argc, argv, "", options, NULL)) >= 0) {
                r = common_option(c, opt, optarg);
                if (r < 0)
                        return r;
        }
        if (optind < argc)
                return log_error_errno(EINVAL, _("'image list' takes no arguments, got '%s'."), argv[optind]);
        r = acquire_bus(c, &bus);
        if (r < 0)
                return r;
        r = call_json(c, bus, "ListImages", _("Failed to list images"), &list, "a{sv}", 0);
        if (r < 0)
                return r;
        if (c->json != JSON_OFF) {
                print_json(c, list);
                json_object_put(list);
                return 0;
        }
        t = table_new(ELEMENTSOF(headers), headers);
        if (!t) {
                json_object_put(list);
                return log_oom();
        }
        for (size_t i = 0; i < json_object_array_length(list); i++) {
                json_object *e = json_object_array_get_idx(list, i), *users = json_get(e, "usedBy");
                const char *digest = json_str(e, "digest");
                char size[32], when[64], short_digest[20], used[64] = "";
                size_t used_len = 0;

                format_bytes(json_object_get_uint64(json_get(e, "size")), size, sizeof size);
                (void) snprintf(short_digest, sizeof short_digest, "%.12s", digest ? strchr(digest, ':') + 1 : "-");
                for (size_t k = 0; users && k < json_object_array_length(users) && used_len < sizeof used - 12; k++)
                        used_len += (size_t) snprintf(used + used_len, sizeof used - used_len, "%s%" PRIu64, k ? "," : "",
                                                      json_object_get_uint64(json_object_array_get_idx(users, k)));
                r = table_add_cell(t, json_str(e, "reference"), CELL_PLAIN);
                if (r >= 0)
                        r = table_add_cell(t, short_digest, CELL_PLAIN);
                if (r >= 0)
                        r = table_add_cell(t, json_str(e, "error") ? _("damaged") : json_str(e, "format"),
                                           json_str(e, "error") ? CELL_BAD : CELL_PLAIN);
                if (r >= 0)
                        r = table_add_cell(t, size, CELL_PLAIN);
                if (r >= 0)
                        r = table_add_cell(t, format_time(json_object_get_uint64(json_get(e, "pulledAtUSec")), when, sizeof when),
                                           CELL_PLAIN);
                if (r >= 0)
                        r = table_add_cell(t, used_len ? used : "-", CELL_PLAIN);
                if (r < 0) {
                        json_object_put(list);
                        return log_oom();
                }
        }
        json_object_put(list);
        (void) pager_open(c->no_pager);
        return table_print(t, stdout, c->legend, c->colors);
}

static int image_inspect(Context *c, int argc, char *argv[]) {
        static const struct option options[] = { COMMON_OPTIONS, {} };
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ char *source = NULL, *programs = NULL, *maps = NULL, *platforms = NULL;
        json_object *j = NULL, *users;
        char size[32], when[64];
        int opt, r;

        optind = 0;
        while ((opt = getopt_long(argc, argv, "", options, NULL)) >= 0) {
                r = common_option(c, opt, optarg);
                if (r < 0)
                        return r;
        }
        if (optind + 1 != argc)
                return log_error_errno(EINVAL, "%s", _("Usage: image inspect REFERENCE|DIGEST"));
        r = image_source_absolute(argv[optind], &source);
        if (r < 0)
                return r;
        r = acquire_bus(c, &bus);
        if (r < 0)
                return r;
        r = call_json(c, bus, "GetImage", _("Failed to inspect the image"), &j, "s", source);
        if (r < 0)
                return r;
        if (c->json != JSON_OFF) {
                print_json(c, j);
                json_object_put(j);
                return 0;
        }
        programs = join_keys(json_get(j, "programs"));
        maps = join_keys(json_get(j, "maps"));
        users = json_get(j, "usedBy");
        format_bytes(json_object_get_uint64(json_get(j, "size")), size, sizeof size);
        print_field(_("Reference:"), json_str(j, "reference"));
        print_field(_("Digest:"), json_str(j, "digest"));
        print_field(_("Index Digest:"), json_str(j, "indexDigest"));
        platforms = join_array(json_get(j, "indexPlatforms"), ", ");
        print_field(_("Index Platforms:"), platforms);
        print_field(_("Format:"), json_str(j, "format"));
        print_field(_("Architecture:"), json_str(j, "architecture"));
        print_field(_("Size:"), size);
        print_field(_("Pulled At:"), format_time(json_object_get_uint64(json_get(j, "pulledAtUSec")), when, sizeof when));
        print_field(_("Programs:"), programs);
        print_field(_("Maps:"), maps);
        print_field(_("Used By:"), users && json_object_array_length(users) ? json_object_to_json_string(users) : NULL);
        json_object_put(j);
        return 0;
}

static int image_remove(Context *c, int argc, char *argv[]) {
        static const struct option options[] = { COMMON_OPTIONS, {} };
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int opt, r, ret = 0;

        optind = 0;
        while ((opt = getopt_long(argc, argv, "", options, NULL)) >= 0) {
                r = common_option(c, opt, optarg);
                if (r < 0)
                        return r;
        }
        if (optind >= argc)
                return log_error_errno(EINVAL, "%s", _("Usage: image rm REFERENCE|DIGEST..."));
        r = acquire_bus(c, &bus);
        if (r < 0)
                return r;
        for (int i = optind; i < argc; i++) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                _cleanup_free_ char *source = NULL;
                r = image_source_absolute(argv[i], &source);
                if (r >= 0)
                        r = sd_bus_call_method(bus, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH, BPFHUB_MANAGER_INTERFACE,
                                               "RemoveImage", &error, NULL, "s", source);
                if (r < 0)
                        ret = report_bus_error(c, _("Failed to remove the image"), &error, r);
                else
                        printf(_("Removed %s\n"), source);
        }
        return ret;
}

static int image_prune(Context *c, int argc, char *argv[]) {
        static const struct option options[] = {
                { "all", no_argument, NULL, 'a' },
                COMMON_OPTIONS,
                {}
        };
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        uint32_t images, blobs;
        uint64_t freed;
        bool all = false;
        char size[32];
        int opt, r;

        optind = 0;
        while ((opt = getopt_long(argc, argv, "a", options, NULL)) >= 0) {
                if (opt == 'a') {
                        all = true;
                        continue;
                }
                r = common_option(c, opt, optarg);
                if (r < 0)
                        return r;
        }
        if (optind < argc)
                return log_error_errno(EINVAL, _("'image prune' takes no arguments, got '%s'."), argv[optind]);
        r = acquire_bus(c, &bus);
        if (r < 0)
                return r;
        r = all ? sd_bus_call_method(bus, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH, BPFHUB_MANAGER_INTERFACE, "PruneImages",
                                     &error, &reply, "a{sv}", 1, "all", "b", 1)
                : sd_bus_call_method(bus, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH, BPFHUB_MANAGER_INTERFACE, "PruneImages",
                                     &error, &reply, "a{sv}", 0);
        if (r < 0)
                return report_bus_error(c, _("Failed to prune images"), &error, r);
        r = sd_bus_message_read(reply, "uut", &images, &blobs, &freed);
        if (r < 0)
                return report_bus_error(c, _("Failed to parse the reply of bpfhubd"), NULL, r);
        if (c->json != JSON_OFF) {
                json_object *j = json_object_new_object();
                json_object_object_add(j, "imagesRemoved", json_object_new_int64(images));
                json_object_object_add(j, "blobsRemoved", json_object_new_int64(blobs));
                json_object_object_add(j, "bytesFreed", json_object_new_int64((int64_t) freed));
                print_json(c, j);
                json_object_put(j);
                return 0;
        }
        format_bytes(freed, size, sizeof size);
        printf(_("Removed %" PRIu32 " image(s) and %" PRIu32 " blob(s), freed %s.\n"), images, blobs, size);
        return 0;
}

int verb_image(int argc, char *argv[], void *userdata) {
        Context *c = ASSERT_PTR(userdata);

        if (argc >= 2 && streq(argv[1], "pull"))
                return image_pull(c, argc - 1, argv + 1);
        if (argc >= 2 && streq(argv[1], "list"))
                return image_list(c, argc - 1, argv + 1);
        if (argc >= 2 && streq(argv[1], "inspect"))
                return image_inspect(c, argc - 1, argv + 1);
        if (argc >= 2 && (streq(argv[1], "rm") || streq(argv[1], "remove")))
                return image_remove(c, argc - 1, argv + 1);
        if (argc >= 2 && streq(argv[1], "prune"))
                return image_prune(c, argc - 1, argv + 1);
        return log_error_errno(EINVAL, "%s", _("Usage: image pull|list|inspect|rm|prune ..."));
}
