/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <json-c/json.h>

#include "bpfhubctl.h"
#include "log.h"
#include "pager.h"
#include "table.h"
#include "time-util.h"

static const char *feature_kind_label(const char *kind) {
        if (kind && streq(kind, "program-type"))
                return _("program type");
        if (kind && streq(kind, "attach"))
                return _("attach kind");
        if (kind && streq(kind, "kernel"))
                return _("kernel");
        return kind;
}

static int print_status(Context *c, json_object *root) {
        _cleanup_(table_freep) Table *t = NULL;
        json_object *kernel = NULL, *cfg = NULL, *features = NULL, *warnings = NULL, *v;
        const char *headers[] = { _("FEATURE"), _("KIND"), _("SUPPORTED"), _("DETAIL") };
        char buf[FORMAT_TIMESPAN_MAX];
        /* Decided before the pager takes stdout: the pager (less -R) passes colours through. */
        bool colors = c->colors;
        size_t n_supported = 0, n;
        int r;

        (void) json_object_object_get_ex(root, "kernel", &kernel);
        (void) json_object_object_get_ex(root, "configuration", &cfg);
        if (kernel)
                (void) json_object_object_get_ex(kernel, "features", &features);
        if (cfg)
                (void) json_object_object_get_ex(cfg, "warnings", &warnings);
        if (!kernel || !cfg || !json_object_is_type(features, json_type_array))
                return log_error_errno(EBADMSG, "%s", _("bpfhubd sent a status this client does not understand."));

        printf("%s %s\n", _("       Version:"), strna(json_str(root, "version")));
        if (json_object_object_get_ex(root, "pid", &v))
                printf("%s %d\n", _("           PID:"), json_object_get_int(v));
        printf("%s %s\n", _("        Kernel:"), strna(json_str(kernel, "release")));
        printf("%s %s\n", _("    Config dir:"), strna(json_str(cfg, "configDirectory")));
        printf("%s %s\n", _("     State dir:"), strna(json_str(cfg, "stateDirectory")));
        printf("%s %s\n", _("    bpffs root:"), strna(json_str(cfg, "bpffsRoot")));
        printf("%s %s\n", _("   Image store:"), strna(json_str(cfg, "imageStore")));
        if (json_object_object_get_ex(cfg, "idleTimeoutUSec", &v)) {
                uint64_t usec = json_object_get_uint64(v);
                printf("%s %s\n", _("  Idle timeout:"), usec == 0 ? _("never") : format_timespan(buf, sizeof buf, usec));
        }
        n = json_object_is_type(warnings, json_type_array) ? json_object_array_length(warnings) : 0;
        for (size_t i = 0; i < n; i++)
                printf("%s %s\n", i == 0 ? _("Config warning:") : "               ",
                       json_object_get_string(json_object_array_get_idx(warnings, i)));
        printf("\n");

        t = table_new(ELEMENTSOF(headers), headers);
        if (!t)
                return log_oom();
        n = json_object_array_length(features);
        for (size_t i = 0; i < n; i++) {
                json_object *f = json_object_array_get_idx(features, i), *s;
                bool supported = json_object_object_get_ex(f, "supported", &s) && json_object_get_boolean(s);

                n_supported += supported;
                if (table_add_cell(t, strna(json_str(f, "name")), CELL_PLAIN) < 0 ||
                    table_add_cell(t, strna(feature_kind_label(json_str(f, "kind"))), CELL_PLAIN) < 0 ||
                    table_add_cell(t, supported ? _("yes") : _("no"), supported ? CELL_GOOD : CELL_BAD) < 0 ||
                    table_add_cell(t, json_str(f, "detail"), CELL_PLAIN) < 0)
                        return log_oom();
        }
        r = table_print(t, stdout, c->legend, colors);
        if (r < 0)
                return log_oom();
        if (c->legend)
                printf(_("\n%zu of %zu kernel features supported.\n"), n_supported, n);
        return 0;
}

int verb_status(int argc, char *argv[], void *userdata) {
        Context *c = ASSERT_PTR(userdata);
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        json_object *root;
        const char *text;
        int r;

        r = parse_common_options(argc, argv, c, /* in_verb= */ true);
        if (r <= 0)
                return r;
        if (optind < argc)
                return log_error_errno(EINVAL, _("'status' takes no arguments, got '%s'."), argv[optind]);

        r = acquire_bus(c, &bus);
        if (r < 0)
                return r;

        r = sd_bus_call_method(bus, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH, BPFHUB_MANAGER_INTERFACE,
                               "Describe", &error, &reply, NULL);
        if (r < 0)
                return report_bus_error(c, _("Failed to query bpfhubd"), &error, r);
        r = sd_bus_message_read(reply, "s", &text);
        if (r < 0)
                return report_bus_error(c, _("Failed to parse the reply of bpfhubd"), NULL, r);

        root = json_tokener_parse(text);
        if (!root) {
                c->exit_status = EXIT_FAILED;
                return log_error_errno(EBADMSG, "%s", _("bpfhubd sent invalid JSON."));
        }

        if (c->json != JSON_OFF) {
                printf("%s\n", json_object_to_json_string_ext(root,
                        JSON_C_TO_STRING_NOSLASHESCAPE | (c->json == JSON_PRETTY ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED
                                               : JSON_C_TO_STRING_PLAIN)));
                json_object_put(root);
                return 0;
        }

        c->colors = isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
        (void) pager_open(c->no_pager);
        r = print_status(c, root);
        json_object_put(root);
        if (r < 0)
                c->exit_status = EXIT_FAILED;
        return r;
}
