/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bpfhubctl as a user runs it, against bpfhubd on a private system bus. */
#include <json-c/json.h>
#include <sys/wait.h>

#include "fixture.h"

typedef struct Result {
        int status;
        char *out;
        char *err;
} Result;

static void result_clear(Result *r) {
        g_clear_pointer(&r->out, g_free);
        g_clear_pointer(&r->err, g_free);
}

/* Runs bpfhubctl with the given arguments and extra environment. */
static Result run_ctl(const char *const *env_extra, ...) {
        g_autofree char *ctl = fixture_build_path("client/bpfhubctl");
        g_autoptr(GPtrArray) argv = g_ptr_array_new();
        g_auto(GStrv) envp = g_get_environ();
        Result r = {};
        int wait_status;
        va_list ap;

        g_ptr_array_add(argv, ctl);
        va_start(ap, env_extra);
        for (const char *a = va_arg(ap, const char *); a; a = va_arg(ap, const char *))
                g_ptr_array_add(argv, (char *) a);
        va_end(ap);
        g_ptr_array_add(argv, NULL);

        envp = g_environ_unsetenv(envp, "LANGUAGE");
        envp = g_environ_setenv(envp, "LC_ALL", "C.UTF-8", TRUE);
        for (const char *const *e = env_extra; e && *e; e += 2)
                envp = g_environ_setenv(envp, e[0], e[1], TRUE);

        g_assert_true(g_spawn_sync(NULL, (char **) argv->pdata, envp, G_SPAWN_DEFAULT, NULL, NULL,
                                   &r.out, &r.err, &wait_status, NULL));
        g_assert_true(WIFEXITED(wait_status));
        r.status = WEXITSTATUS(wait_status);
        return r;
}

typedef struct Env {
        char *scratch;
        BusFixture bus;
} Env;

static bool env_start(Env *e) {
        *e = (Env) { .scratch = fixture_scratch_new("ctl") };
        return bus_fixture_start(&e->bus, e->scratch, "--idle-timeout=10s");
}

static void env_stop(Env *e) {
        bus_fixture_stop(&e->bus);
        fixture_scratch_free(g_steal_pointer(&e->scratch));
}

static json_object *daemon_describe(void) {
        sd_bus *bus = NULL;
        sd_bus_message *reply = NULL;
        const char *text;
        json_object *j;

        g_assert_cmpint(sd_bus_open_system(&bus), >=, 0);
        g_assert_cmpint(sd_bus_call_method(bus, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH, BPFHUB_MANAGER_INTERFACE,
                                           "Describe", NULL, &reply, NULL), >=, 0);
        g_assert_cmpint(sd_bus_message_read(reply, "s", &text), >=, 0);
        j = json_tokener_parse(text);
        sd_bus_message_unref(reply);
        sd_bus_flush_close_unref(bus);
        return j;
}

static void test_status_text(void) {
        json_object *describe, *kernel, *features, *v;
        size_t n_supported = 0, n;
        Result r;
        Env e;

        if (!env_start(&e))
                return env_stop(&e);

        r = run_ctl(NULL, "status", "--no-pager", NULL);
        g_assert_cmpint(r.status, ==, 0);
        g_assert_cmpstr(r.err, ==, "");
        g_assert_nonnull(strstr(r.out, "Version: " PACKAGE_VERSION "\n"));
        g_assert_nonnull(strstr(r.out, "FEATURE"));
        g_assert_nonnull(strstr(r.out, e.bus.state_dir));

        /* Every feature the daemon reports is a row with the right verdict. */
        describe = daemon_describe();
        g_assert_true(json_object_object_get_ex(describe, "kernel", &kernel));
        g_assert_true(json_object_object_get_ex(kernel, "features", &features));
        n = json_object_array_length(features);
        for (size_t i = 0; i < n; i++) {
                json_object *f = json_object_array_get_idx(features, i);
                g_autofree char *row = NULL;
                const char *name;
                bool supported;
                char *line;

                g_assert_true(json_object_object_get_ex(f, "name", &v));
                name = json_object_get_string(v);
                g_assert_true(json_object_object_get_ex(f, "supported", &v));
                supported = json_object_get_boolean(v);
                n_supported += supported;

                row = g_strdup_printf("\n%s ", name);
                line = strstr(r.out, row);
                if (!line)
                        g_error("feature %s missing from:\n%s", name, r.out);
                line = g_strndup(line + 1, strcspn(line + 1, "\n"));
                g_assert_nonnull(strstr(line, supported ? " yes " : " no "));
                g_free(line);
        }
        {
                g_autofree char *footer = g_strdup_printf("%zu of %zu kernel features supported.", n_supported, n);
                g_assert_nonnull(strstr(r.out, footer));
        }
        json_object_put(describe);
        result_clear(&r);

        /* --no-legend drops header and footer; status is the default verb. */
        r = run_ctl(NULL, "--no-legend", "--no-pager", NULL);
        g_assert_cmpint(r.status, ==, 0);
        g_assert_null(strstr(r.out, "FEATURE"));
        g_assert_null(strstr(r.out, "kernel features supported"));
        g_assert_nonnull(strstr(r.out, "\nxdp "));
        result_clear(&r);

        env_stop(&e);
}

static void test_status_json(void) {
        json_object *from_ctl, *describe, *v;
        Result r;
        Env e;

        if (!env_start(&e))
                return env_stop(&e);

        r = run_ctl(NULL, "--json=short", "status", NULL);
        g_assert_cmpint(r.status, ==, 0);
        g_assert_cmpuint(strlen(r.out), ==, strcspn(r.out, "\n") + 1);
        from_ctl = json_tokener_parse(r.out);
        g_assert_nonnull(from_ctl);
        describe = daemon_describe();
        /* Same daemon, same answer. */
        g_assert_true(json_object_equal(from_ctl, describe));
        json_object_put(from_ctl);
        result_clear(&r);

        r = run_ctl(NULL, "status", "--json", NULL);
        g_assert_cmpint(r.status, ==, 0);
        g_assert_cmpuint(strlen(r.out), >, strcspn(r.out, "\n") + 1);
        from_ctl = json_tokener_parse(r.out);
        g_assert_true(json_object_equal(from_ctl, describe));
        g_assert_true(json_object_object_get_ex(from_ctl, "version", &v));
        g_assert_cmpstr(json_object_get_string(v), ==, PACKAGE_VERSION);
        json_object_put(from_ctl);
        json_object_put(describe);
        result_clear(&r);

        env_stop(&e);
}

static void test_usage_errors(void) {
        static const struct {
                const char *args[4];
                int status;
                const char *needle;
        } cases[] = {
                { { "bogus" }, 2, "Unknown command verb 'bogus'" },
                { { "status", "extra" }, 2, "takes no arguments" },
                { { "--json=loud", "status" }, 2, "--json=" },
                { { "--no-such-option" }, 2, "unrecognized option" },
                { { "status", "--host" }, 2, "requires an argument" },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                Result r = run_ctl(NULL, cases[i].args[0], cases[i].args[1], cases[i].args[2], NULL);
                if (r.status != cases[i].status || !strstr(r.err, cases[i].needle))
                        g_error("bpfhubctl %s %s: exit %d, stderr: %s", cases[i].args[0],
                                cases[i].args[1] ?: "", r.status, r.err);
                g_assert_cmpstr(r.out, ==, "");
                result_clear(&r);
        }
}

static void test_help_version(void) {
        Result r = run_ctl(NULL, "--help", NULL);

        g_assert_cmpint(r.status, ==, 0);
        g_assert_nonnull(strstr(r.out, "status"));
        g_assert_nonnull(strstr(r.out, "--json"));
        g_assert_nonnull(strstr(r.out, "Exit status"));
        result_clear(&r);

        r = run_ctl(NULL, "--version", NULL);
        g_assert_cmpint(r.status, ==, 0);
        g_assert_cmpstr(r.out, ==, "bpfhubctl " PACKAGE_VERSION "\n");
        result_clear(&r);
}

static void test_unavailable(void) {
        g_autofree char *scratch = fixture_scratch_new("ctl-nobus");
        g_autofree char *address = g_strdup_printf("unix:path=%s/no-bus-here", scratch);
        const char *env[] = { "DBUS_SYSTEM_BUS_ADDRESS", address, NULL };
        Result r = run_ctl(env, "status", NULL);

        g_assert_cmpint(r.status, ==, 5);
        g_assert_nonnull(strstr(r.err, "Failed to connect to the system bus"));
        result_clear(&r);
        fixture_scratch_free(g_steal_pointer(&scratch));
}

static void test_daemon_missing(void) {
        /* A bus without bpfhubd's activation file: the service is unknown. */
        g_autofree char *scratch = fixture_scratch_new("ctl-nodaemon");
        g_autofree char *service = NULL;
        BusFixture bus;
        Result r;

        if (!bus_fixture_start(&bus, scratch, NULL)) {
                bus_fixture_stop(&bus);
                fixture_scratch_free(g_steal_pointer(&scratch));
                return;
        }
        service = g_build_filename(bus.dir, "services", "org.bpfhub.Manager1.service", NULL);
        g_assert_cmpint(unlink(service), ==, 0);
        g_assert_cmpint(fixture_run(NULL, "busctl --system call org.freedesktop.DBus /org/freedesktop/DBus "
                                           "org.freedesktop.DBus ReloadConfig"), ==, 0);

        r = run_ctl(NULL, "status", NULL);
        g_assert_cmpint(r.status, ==, 5);
        g_assert_nonnull(strstr(r.err, "Failed to query bpfhubd"));
        result_clear(&r);

        bus_fixture_stop(&bus);
        fixture_scratch_free(g_steal_pointer(&scratch));
}

static void test_translation(void) {
        g_autofree char *localedir = fixture_build_path("po");
        g_autofree char *mo = g_build_filename(localedir, "zh_CN", "LC_MESSAGES", "bpfhub.mo", NULL);
        const char *env[] = { "LANGUAGE", "zh_CN", "BPFHUB_LOCALEDIR", localedir, NULL };
        Result r;

        g_assert_true(g_file_test(mo, G_FILE_TEST_EXISTS));
        r = run_ctl(env, "--help", NULL);
        g_assert_cmpint(r.status, ==, 0);
        /* The help text is translated; commands and options are not. */
        g_assert_null(strstr(r.out, "Manage eBPF programs through"));
        g_assert_nonnull(strstr(r.out, "--no-pager"));
        g_assert_nonnull(strstr(r.out, "status"));
        result_clear(&r);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/bpfhubctl/status-text", test_status_text);
        g_test_add_func("/bpfhubctl/status-json", test_status_json);
        g_test_add_func("/bpfhubctl/usage-errors", test_usage_errors);
        g_test_add_func("/bpfhubctl/help-version", test_help_version);
        g_test_add_func("/bpfhubctl/unavailable", test_unavailable);
        g_test_add_func("/bpfhubctl/daemon-missing", test_daemon_missing);
        g_test_add_func("/bpfhubctl/translation", test_translation);
        return g_test_run();
}
