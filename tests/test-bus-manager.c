/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bpfhubd on a real private system bus, reached exactly as clients reach it:
 * through D-Bus activation of the freshly built daemon. */
#include <gio/gio.h>
#include <json-c/json.h>
#include <grp.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "contract.h"
#include "fixture.h"

typedef struct Env {
        char *scratch;
        BusFixture bus;
        sd_bus *client;
} Env;

static bool env_start(Env *e, const char *extra_args) {
        *e = (Env) { .scratch = fixture_scratch_new("bus") };
        if (!bus_fixture_start(&e->bus, e->scratch, extra_args))
                return false;
        e->client = bus_fixture_connect(&e->bus);
        return true;
}

static void env_stop(Env *e) {
        e->client = sd_bus_flush_close_unref(e->client);
        bus_fixture_stop(&e->bus);
        fixture_scratch_free(g_steal_pointer(&e->scratch));
}

static char *call_describe(sd_bus *bus, sd_bus_error *error) {
        sd_bus_message *reply = NULL;
        const char *json;
        char *copy;
        int r;

        r = sd_bus_call_method(bus, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH, BPFHUB_MANAGER_INTERFACE,
                               "Describe", error, &reply, NULL);
        if (r < 0)
                return NULL;
        g_assert_cmpint(sd_bus_message_read(reply, "s", &json), >=, 0);
        copy = g_strdup(json);
        sd_bus_message_unref(reply);
        return copy;
}

static void test_activation(void) {
        Env e;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        g_autofree char *json = NULL, *exe_link = NULL, *exe = NULL, *expected = NULL;
        pid_t pid;

        if (!env_start(&e, NULL))
                return env_stop(&e);

        /* Nothing runs until somebody calls. */
        g_assert_false(bus_fixture_name_has_owner(e.client));
        json = call_describe(e.client, &error);
        if (!json)
                g_error("activation failed: %s: %s", error.name, error.message);
        g_assert_true(bus_fixture_name_has_owner(e.client));

        /* And what runs is the daemon of this build tree. */
        pid = bus_fixture_daemon_pid(e.client);
        g_assert_cmpint(pid, >, 0);
        exe_link = g_strdup_printf("/proc/%d/exe", (int) pid);
        exe = g_file_read_link(exe_link, NULL);
        expected = fixture_build_path("service/bpfhubd");
        g_assert_nonnull(exe);
        g_assert_cmpstr(exe, ==, expected);

        sd_bus_error_free(&error);
        env_stop(&e);
}

static void test_introspection_contract(void) {
        g_autofree char *live_xml = NULL, *contract_xml = NULL, *contract_path = NULL;
        g_autoptr(GDBusNodeInfo) live = NULL, contract = NULL;
        g_autoptr(GError) error = NULL;
        GDBusInterfaceInfo *ours;
        Env e;

        if (!env_start(&e, NULL))
                return env_stop(&e);

        contract_path = fixture_source_path("dbus/org.bpfhub.Manager1.xml");
        g_assert_true(g_file_get_contents(contract_path, &contract_xml, NULL, NULL));
        contract = g_dbus_node_info_new_for_xml(contract_xml, &error);
        g_assert_no_error(error);

        live_xml = contract_introspect(e.client, BPFHUB_MANAGER_PATH);
        live = g_dbus_node_info_new_for_xml(live_xml, &error);
        g_assert_no_error(error);

        /* Every interface the daemon serves is either the contract's or a
         * standard one; the contract has nothing the daemon lacks. */
        for (GDBusInterfaceInfo **i = live->interfaces; i && *i; i++) {
                if (g_str_has_prefix((*i)->name, "org.freedesktop.DBus."))
                        continue;
                if (!g_dbus_node_info_lookup_interface(contract, (*i)->name))
                        g_error("the daemon serves %s, which dbus/ does not document", (*i)->name);
        }
        for (GDBusInterfaceInfo **i = contract->interfaces; i && *i; i++) {
                GDBusInterfaceInfo *l = g_dbus_node_info_lookup_interface(live, (*i)->name);
                if (!l)
                        g_error("dbus/ documents %s, which the daemon does not serve", (*i)->name);
                contract_assert_interface_equal(*i, l);
        }
        ours = g_dbus_node_info_lookup_interface(live, BPFHUB_MANAGER_INTERFACE);
        g_assert_nonnull(ours);
        /* The per-entity objects hang off this ObjectManager. */
        g_assert_nonnull(g_dbus_node_info_lookup_interface(live, "org.freedesktop.DBus.ObjectManager"));

        env_stop(&e);
}

/* Program1 and Link1 objects match their contracts too. */
static void test_entity_contracts(void) {
        g_autofree char *object = NULL;
        sd_bus_message *reply = NULL;
        const char *prog_path, *link_path;
        uint32_t prog_id, link_id;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        Env e;

        if (!fixture_require_root())
                return;
        if (!env_start(&e, NULL))
                return env_stop(&e);

        object = fixture_build_path("bpf/feature-probes.bpf.o");
        if (sd_bus_call_method(e.client, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH, BPFHUB_MANAGER_INTERFACE, "Load", &error,
                               &reply, "sa(sss)a{sv}", object, 1, "probe_tracepoint", "tracepoint", "", 0) < 0)
                g_error("Load: %s", error.message);
        g_assert_cmpint(sd_bus_message_read(reply, "a(uo)", 1, &prog_id, &prog_path), >=, 0);
        prog_path = g_strdup(prog_path);
        reply = sd_bus_message_unref(reply);
        if (sd_bus_call_method(e.client, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH, BPFHUB_MANAGER_INTERFACE, "Attach", &error,
                               &reply, "usa{sv}", prog_id, "tracepoint", 1, "tracepoint", "s",
                               "syscalls/sys_enter_getppid") < 0)
                g_error("Attach: %s", error.message);
        g_assert_cmpint(sd_bus_message_read(reply, "uo", &link_id, &link_path), >=, 0);
        link_path = g_strdup(link_path);
        reply = sd_bus_message_unref(reply);

        for (int k = 0; k < 2; k++) {
                const char *name = k == 0 ? "org.bpfhub.Program1" : "org.bpfhub.Link1";
                g_autofree char *live_xml = contract_introspect(e.client, k == 0 ? prog_path : link_path);
                g_autoptr(GError) gerror = NULL;
                g_autoptr(GDBusNodeInfo) live = g_dbus_node_info_new_for_xml(live_xml, &gerror);
                g_autoptr(GDBusNodeInfo) contract = contract_load(name);
                GDBusInterfaceInfo *l;

                g_assert_no_error(gerror);
                l = g_dbus_node_info_lookup_interface(live, name);
                g_assert_nonnull(l);
                contract_assert_interface_equal(g_dbus_node_info_lookup_interface(contract, name), l);
        }

        g_assert_cmpint(sd_bus_call_method(e.client, BPFHUB_BUS_NAME, prog_path, "org.bpfhub.Program1", "Unload",
                                           &error, NULL, NULL), >=, 0);
        g_free((char *) prog_path);
        g_free((char *) link_path);
        env_stop(&e);
}

/* The bus policy must allow every method of the contract by name: a method
 * without a policy line would be unreachable for everyone but root. */

static void test_policy_lists_every_method(void) {
        g_autofree char *policy = NULL, *policy_path = NULL;

        policy_path = fixture_source_path("dbus/org.bpfhub.Manager1.conf");
        g_assert_true(g_file_get_contents(policy_path, &policy, NULL, NULL));
        /* Root may call anything: what matters is the default context's list. */
        {
                char *start = strstr(policy, "<policy context=\"default\">");
                g_assert_nonnull(start);
                memmove(policy, start, strlen(start) + 1);
        }

        /* Compare with all whitespace runs folded to one space. */
        g_auto(GStrv) words = g_strsplit_set(policy, " \t\n", -1);
        g_autofree char *flat = NULL;
        GString *s = g_string_new(NULL);
        for (char **w = words; *w; w++)
                if (**w)
                        g_string_append_printf(s, "%s ", *w);
        flat = g_string_free(s, FALSE);

        for (const char *const *c = (const char *const[]) { "org.bpfhub.Manager1", "org.bpfhub.Program1",
                                                            "org.bpfhub.Link1", "org.bpfhub.Transfer1",
                                                            "org.bpfhub.Image1", NULL }; *c; c++) {
                g_autoptr(GDBusNodeInfo) contract = contract_load(*c);
                for (GDBusInterfaceInfo **i = contract->interfaces; i && *i; i++)
                        for (GDBusMethodInfo **m = (*i)->methods; m && *m; m++) {
                                g_autofree char *needle = g_strdup_printf(
                                        "send_interface=\"%s\" send_member=\"%s\"", (*i)->name, (*m)->name);
                                if (!strstr(flat, needle))
                                        g_error("dbus/org.bpfhub.Manager1.conf does not allow %s.%s", (*i)->name, (*m)->name);
                        }
        }
}

static void assert_features_match_property(sd_bus *bus, json_object *features) {
        sd_bus_message *reply = NULL;
        const char *name, *kind, *detail;
        int supported, r;
        size_t i = 0;

        r = sd_bus_get_property(bus, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH, BPFHUB_MANAGER_INTERFACE,
                                "KernelFeatures", NULL, &reply, "a(ssbs)");
        g_assert_cmpint(r, >=, 0);
        g_assert_cmpint(sd_bus_message_enter_container(reply, 'a', "(ssbs)"), >=, 0);
        while ((r = sd_bus_message_read(reply, "(ssbs)", &name, &kind, &supported, &detail)) > 0) {
                json_object *f = json_object_array_get_idx(features, i++), *v;
                g_assert_nonnull(f);
                g_assert_true(json_object_object_get_ex(f, "name", &v));
                g_assert_cmpstr(json_object_get_string(v), ==, name);
                g_assert_true(json_object_object_get_ex(f, "kind", &v));
                g_assert_cmpstr(json_object_get_string(v), ==, kind);
                g_assert_true(json_object_object_get_ex(f, "supported", &v));
                g_assert_cmpint(json_object_get_boolean(v), ==, supported);
                g_assert_true(json_object_object_get_ex(f, "detail", &v));
                g_assert_cmpstr(json_object_get_string(v), ==, detail);
                g_assert_true(g_strv_contains((const char *[]) { "program-type", "attach", "kernel", NULL }, kind));
                g_assert_cmpstr(detail, !=, "");
        }
        g_assert_cmpint(r, ==, 0);
        g_assert_cmpuint(i, ==, json_object_array_length(features));
        g_assert_cmpuint(i, >=, 20);
        sd_bus_message_unref(reply);
}

static void test_describe(void) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        g_autofree char *json = NULL, *version = NULL;
        json_object *root, *v, *cfg, *kernel, *features;
        Env e;

        if (!env_start(&e, "--idle-timeout=45s"))
                return env_stop(&e);

        json = call_describe(e.client, &error);
        g_assert_nonnull(json);
        root = json_tokener_parse(json);
        g_assert_nonnull(root);

        g_assert_true(json_object_object_get_ex(root, "version", &v));
        g_assert_cmpstr(json_object_get_string(v), ==, PACKAGE_VERSION);
        g_assert_cmpint(sd_bus_get_property_string(e.client, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH,
                                                   BPFHUB_MANAGER_INTERFACE, "Version", NULL, &version), >=, 0);
        g_assert_cmpstr(version, ==, PACKAGE_VERSION);

        /* The options from the activation file reached the daemon. */
        g_assert_true(json_object_object_get_ex(root, "configuration", &cfg));
        g_assert_true(json_object_object_get_ex(cfg, "stateDirectory", &v));
        g_assert_cmpstr(json_object_get_string(v), ==, e.bus.state_dir);
        g_assert_true(json_object_object_get_ex(cfg, "bpffsRoot", &v));
        g_assert_cmpstr(json_object_get_string(v), ==, e.bus.bpffs_root);
        g_assert_true(json_object_object_get_ex(cfg, "imageStore", &v));
        g_assert_cmpstr(json_object_get_string(v), ==, e.bus.image_store);
        g_assert_true(json_object_object_get_ex(cfg, "configDirectory", &v));
        g_assert_cmpstr(json_object_get_string(v), ==, e.bus.config_dir);
        g_assert_true(json_object_object_get_ex(cfg, "idleTimeoutUSec", &v));
        g_assert_cmpuint(json_object_get_uint64(v), ==, 45 * G_USEC_PER_SEC);

        g_assert_true(json_object_object_get_ex(root, "kernel", &kernel));
        g_assert_true(json_object_object_get_ex(kernel, "features", &features));
        assert_features_match_property(e.client, features);

        json_object_put(root);
        env_stop(&e);
}

static void test_config_file(void) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        g_autofree char *json = NULL, *conf = NULL, *dropin_dir = NULL, *dropin = NULL;
        json_object *root, *cfg, *v, *warnings;
        Env e;

        if (!env_start(&e, NULL))
                return env_stop(&e);

        conf = g_build_filename(e.bus.config_dir, "bpfhub.conf", NULL);
        g_assert_true(g_file_set_contents(conf,
                "# test configuration\n"
                "[Daemon]\n"
                "IdleTimeout=7s\n"
                "ImageStore=/nonexistent/from-config\n"
                "Bogus=1\n"
                "StateDirectory=relative/path\n", -1, NULL));
        dropin_dir = g_build_filename(e.bus.config_dir, "bpfhub.conf.d", NULL);
        g_assert_cmpint(g_mkdir_with_parents(dropin_dir, 0755), ==, 0);
        dropin = g_build_filename(dropin_dir, "50-idle.conf", NULL);
        g_assert_true(g_file_set_contents(dropin, "[Daemon]\nIdleTimeout=1min 30s\n", -1, NULL));

        json = call_describe(e.client, &error);
        g_assert_nonnull(json);
        root = json_tokener_parse(json);
        g_assert_true(json_object_object_get_ex(root, "configuration", &cfg));

        /* The drop-in wins over bpfhub.conf... */
        g_assert_true(json_object_object_get_ex(cfg, "idleTimeoutUSec", &v));
        g_assert_cmpuint(json_object_get_uint64(v), ==, 90 * G_USEC_PER_SEC);
        /* ...and the command line (the activation file's --image-store=) wins over both. */
        g_assert_true(json_object_object_get_ex(cfg, "imageStore", &v));
        g_assert_cmpstr(json_object_get_string(v), ==, e.bus.image_store);
        /* Bad lines are skipped and reported, not fatal. */
        g_assert_true(json_object_object_get_ex(cfg, "warnings", &warnings));
        g_assert_cmpuint(json_object_array_length(warnings), ==, 2);
        g_assert_nonnull(strstr(json_object_get_string(json_object_array_get_idx(warnings, 0)), "Bogus"));
        g_assert_nonnull(strstr(json_object_get_string(json_object_array_get_idx(warnings, 1)), "StateDirectory"));

        json_object_put(root);
        env_stop(&e);
}

static void test_idle_exit(void) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        g_autofree char *json = NULL;
        gint64 last_call, gone;
        pid_t pid;
        Env e;

        if (!env_start(&e, "--idle-timeout=400ms"))
                return env_stop(&e);

        json = call_describe(e.client, &error);
        g_assert_nonnull(json);
        pid = bus_fixture_daemon_pid(e.client);
        g_assert_cmpint(pid, >, 0);

        /* Calls more often than the timeout keep the same daemon alive. */
        for (int i = 0; i < 8; i++) {
                g_usleep(200 * 1000);
                g_free(call_describe(e.client, &error));
                g_assert_null(error.name);
                g_assert_cmpint(bus_fixture_daemon_pid(e.client), ==, pid);
        }

        /* Then it goes away on its own, not before the timeout. */
        last_call = g_get_monotonic_time();
        g_assert_true(bus_fixture_wait_name_gone(e.client, 5000));
        gone = g_get_monotonic_time();
        g_assert_cmpint(gone - last_call, >=, 350 * 1000);
        for (int i = 0; i < 200 && kill(pid, 0) == 0; i++)
                g_usleep(10000);
        g_assert_cmpint(kill(pid, 0), <, 0);

        /* The next call activates a new one. */
        g_free(call_describe(e.client, &error));
        g_assert_null(error.name);
        g_assert_cmpint(bus_fixture_daemon_pid(e.client), !=, pid);

        env_stop(&e);
}

/* Calls spaced around the idle timeout race the daemon's exit: each must
 * still get a reply, from the exiting daemon or from a newly activated one. */
static void test_idle_race(void) {
        g_autoptr(GHashTable) pids = g_hash_table_new(g_direct_hash, g_direct_equal);
        unsigned iterations = g_test_slow() ? 400 : 120;
        GRand *rand = g_rand_new_with_seed(0xb9f);
        Env e;

        if (!env_start(&e, "--idle-timeout=60ms"))
                return env_stop(&e);

        for (unsigned i = 0; i < iterations; i++) {
                sd_bus_error error = SD_BUS_ERROR_NULL;
                g_autofree char *json = call_describe(e.client, &error);

                if (!json)
                        g_error("call %u of %u lost: %s: %s", i, iterations, error.name, error.message);
                g_hash_table_add(pids, GINT_TO_POINTER(bus_fixture_daemon_pid(e.client)));
                g_usleep((gulong) g_rand_int_range(rand, 40, 90) * 1000);
        }
        g_rand_free(rand);
        g_printerr("# %u calls answered by %u daemon instances\n", iterations, g_hash_table_size(pids));
        /* The race really happened: the daemon exited and came back. */
        g_assert_cmpuint(g_hash_table_size(pids), >=, 3);

        env_stop(&e);
}

/* Runs bpfhubd directly (not activated) so its exit status can be read. */
static pid_t spawn_daemon(BusFixture *f, const char *extra, int *ret_stderr) {
        g_autofree char *daemon = fixture_build_path("service/bpfhubd");
        g_autofree char *cmd = g_strdup_printf("exec %s --config-dir=%s --state-dir=%s --bpffs-root=%s "
                                               "--image-store=%s %s",
                                               daemon, f->config_dir, f->state_dir, f->bpffs_root,
                                               f->image_store, extra ?: "");
        int err_pipe[2];
        pid_t pid;

        g_assert_cmpint(pipe(err_pipe), ==, 0);
        pid = fork();
        g_assert_cmpint(pid, >=, 0);
        if (pid == 0) {
                (void) dup2(err_pipe[1], STDERR_FILENO);
                (void) close(err_pipe[0]);
                (void) close(err_pipe[1]);
                (void) unsetenv("JOURNAL_STREAM");
                fixture_sanitizer_env(f->dir);
                execl("/bin/sh", "sh", "-c", cmd, (char *) NULL);
                _exit(127);
        }
        (void) close(err_pipe[1]);
        *ret_stderr = err_pipe[0];
        return pid;
}

static char *read_all(int fd) {
        GString *s = g_string_new(NULL);
        char buf[4096];
        ssize_t n;

        while ((n = read(fd, buf, sizeof buf)) > 0)
                g_string_append_len(s, buf, n);
        (void) close(fd);
        return g_string_free(s, FALSE);
}

static int reply_count;

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        const sd_bus_error *e = sd_bus_message_get_error(m);

        if (e)
                g_error("call pending at SIGTERM failed: %s: %s", e->name, e->message);
        reply_count++;
        return 0;
}

static void test_sigterm(void) {
        g_autofree char *log = NULL;
        pid_t pid;
        int status, err_fd;
        Env e;

        if (!env_start(&e, NULL))
                return env_stop(&e);

        pid = spawn_daemon(&e.bus, "--idle-timeout=0", &err_fd);
        for (int i = 0; i < 500 && !bus_fixture_name_has_owner(e.client); i++)
                g_usleep(10000);
        g_assert_cmpint(bus_fixture_daemon_pid(e.client), ==, pid);

        /* Queue calls, then SIGTERM before they are read: all are answered. */
        reply_count = 0;
        for (int i = 0; i < 20; i++)
                g_assert_cmpint(sd_bus_call_method_async(e.client, NULL, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH,
                                                         BPFHUB_MANAGER_INTERFACE, "Describe", on_reply, NULL,
                                                         NULL), >=, 0);
        g_assert_cmpint(sd_bus_flush(e.client), >=, 0);
        g_assert_cmpint(kill(pid, SIGTERM), ==, 0);
        while (reply_count < 20) {
                g_assert_cmpint(sd_bus_process(e.client, NULL), >=, 0);
                g_assert_cmpint(sd_bus_wait(e.client, 5 * G_USEC_PER_SEC), >=, 0);
        }

        g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
        log = read_all(err_fd);
        g_assert_true(WIFEXITED(status));
        g_assert_cmpint(WEXITSTATUS(status), ==, 0);
        g_assert_nonnull(strstr(log, "shutting down"));
        g_assert_true(bus_fixture_wait_name_gone(e.client, 2000));

        env_stop(&e);
}

static void test_second_instance(void) {
        g_autofree char *log = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        pid_t pid;
        int status, err_fd;
        Env e;

        if (!env_start(&e, "--idle-timeout=0"))
                return env_stop(&e);

        g_free(call_describe(e.client, &error));
        g_assert_null(error.name);
        pid = spawn_daemon(&e.bus, NULL, &err_fd);
        g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
        log = read_all(err_fd);
        g_assert_true(WIFEXITED(status));
        g_assert_cmpint(WEXITSTATUS(status), !=, 0);
        g_assert_nonnull(strstr(log, "owned by another process"));

        env_stop(&e);
}

static void test_bad_options(void) {
        g_autofree char *daemon = fixture_build_path("service/bpfhubd");
        static const char *const bad[] = {
                "--idle-timeout=soon", "--state-dir=relative", "--log-level=loud", "--bogus", "extra",
        };

        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                g_autofree char *err = NULL;
                const char *argv[] = { daemon, bad[i], NULL };
                int status;

                g_assert_true(g_spawn_sync(NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                                           NULL, &err, &status, NULL));
                g_assert_true(WIFEXITED(status));
                g_assert_cmpint(WEXITSTATUS(status), ==, 1);
                g_assert_cmpstr(err, !=, "");
        }
}

static int nobody_calls_allowed_members(sd_bus *bus, void *userdata) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        char *version = NULL;

        /* Describe asks polkit for org.bpfhub.inspect; with no polkitd on this
         * bus the daemon fails closed. */
        if (sd_bus_call_method(bus, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH, BPFHUB_MANAGER_INTERFACE,
                               "Describe", &error, &reply, NULL) >= 0 ||
            !sd_bus_error_has_name(&error, SD_BUS_ERROR_ACCESS_DENIED))
                return 1;
        sd_bus_error_free(&error);
        if (sd_bus_get_property_string(bus, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH, BPFHUB_MANAGER_INTERFACE,
                                       "Version", &error, &version) < 0)
                return 2;
        free(version);
        if (sd_bus_call_method(bus, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH, "org.freedesktop.DBus.Introspectable",
                               "Introspect", &error, NULL, NULL) < 0)
                return 3;
        return 0;
}

static int nobody_is_denied(sd_bus *bus, void *userdata) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        /* Owning the name is root's alone... */
        r = sd_bus_request_name(bus, BPFHUB_BUS_NAME, SD_BUS_NAME_QUEUE);
        if (r != -EACCES)
                return 10;
        /* ...and members the policy does not list are unreachable, even
         * ones sd-bus itself would answer. */
        r = sd_bus_call_method(bus, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH, "org.freedesktop.DBus.Properties",
                               "Set", &error, NULL, "ssv", BPFHUB_MANAGER_INTERFACE, "Version", "s", "9.9");
        if (r >= 0 || !sd_bus_error_has_name(&error, SD_BUS_ERROR_ACCESS_DENIED))
                return 11;
        sd_bus_error_free(&error);
        r = sd_bus_call_method(bus, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH, BPFHUB_MANAGER_INTERFACE,
                               "NoSuchMethod", &error, NULL, NULL);
        if (r >= 0 || !sd_bus_error_has_name(&error, SD_BUS_ERROR_ACCESS_DENIED))
                return 12;
        sd_bus_error_free(&error);
        /* The bus lets it call the program methods; the daemon refuses
         * (root only until polkit decides). */
        r = sd_bus_call_method(bus, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH, BPFHUB_MANAGER_INTERFACE, "Load", &error,
                               NULL, "sa(sss)a{sv}", "/nonexistent.o", 1, "x", "xdp", "", 0);
        if (r >= 0 || !sd_bus_error_has_name(&error, SD_BUS_ERROR_ACCESS_DENIED))
                return 13;
        sd_bus_error_free(&error);
        r = sd_bus_call_method(bus, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH, BPFHUB_MANAGER_INTERFACE, "ListPrograms",
                               &error, NULL, "a{sv}", 0);
        if (r >= 0 || !sd_bus_error_has_name(&error, SD_BUS_ERROR_ACCESS_DENIED))
                return 14;
        sd_bus_error_free(&error);
        r = sd_bus_call_method(bus, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH, BPFHUB_MANAGER_INTERFACE, "Unload", &error,
                               NULL, "u", 1);
        if (r >= 0 || !sd_bus_error_has_name(&error, SD_BUS_ERROR_ACCESS_DENIED))
                return 15;
        sd_bus_error_free(&error);
        return 0;
}

static void test_policy_unprivileged(void) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        g_autofree char *version = NULL;
        Env e;

        if (!fixture_require_root())
                return;
        if (!env_start(&e, NULL))
                return env_stop(&e);

        g_assert_cmpint(bus_fixture_as_nobody(&e.bus, nobody_calls_allowed_members, NULL), ==, 0);
        g_assert_cmpint(bus_fixture_as_nobody(&e.bus, nobody_is_denied, NULL), ==, 0);

        /* Root may call Set, and the daemon refuses it: Version is read-only. */
        g_assert_cmpint(sd_bus_call_method(e.client, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH,
                                           "org.freedesktop.DBus.Properties", "Set", &error, NULL, "ssv",
                                           BPFHUB_MANAGER_INTERFACE, "Version", "s", "9.9"), <, 0);
        g_assert_true(sd_bus_error_has_name(&error, SD_BUS_ERROR_PROPERTY_READ_ONLY));
        sd_bus_error_free(&error);
        g_assert_cmpint(sd_bus_get_property_string(e.client, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH,
                                                   BPFHUB_MANAGER_INTERFACE, "Version", NULL, &version), >=, 0);
        g_assert_cmpstr(version, ==, PACKAGE_VERSION);

        env_stop(&e);
}

/* Bad arguments get a typed error and the daemon keeps serving. */
static void test_bad_arguments(void) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        g_autofree char *json = NULL;
        Env e;

        if (!env_start(&e, NULL))
                return env_stop(&e);

        g_assert_cmpint(sd_bus_call_method(e.client, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH, BPFHUB_MANAGER_INTERFACE,
                                           "Describe", &error, NULL, "s", "unexpected"), <, 0);
        g_assert_true(sd_bus_error_has_name(&error, SD_BUS_ERROR_INVALID_ARGS));
        sd_bus_error_free(&error);
        g_assert_cmpint(sd_bus_call_method(e.client, BPFHUB_BUS_NAME, "/org/bpfhub/Manager1/program/1",
                                           BPFHUB_MANAGER_INTERFACE, "Describe", &error, NULL, NULL), <, 0);
        g_assert_true(sd_bus_error_has_name(&error, SD_BUS_ERROR_UNKNOWN_OBJECT));
        sd_bus_error_free(&error);
        g_assert_cmpint(sd_bus_call_method(e.client, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH, "org.bpfhub.NoSuch1",
                                           "Describe", &error, NULL, NULL), <, 0);
        g_assert_true(sd_bus_error_has_name(&error, SD_BUS_ERROR_UNKNOWN_INTERFACE) ||
                      sd_bus_error_has_name(&error, SD_BUS_ERROR_UNKNOWN_METHOD));
        sd_bus_error_free(&error);

        json = call_describe(e.client, &error);
        g_assert_nonnull(json);
        env_stop(&e);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        /* Our own children are reaped explicitly. */
        signal(SIGPIPE, SIG_IGN);

        g_test_add_func("/bus/activation", test_activation);
        g_test_add_func("/bus/introspection-contract", test_introspection_contract);
        g_test_add_func("/bus/policy-lists-every-method", test_policy_lists_every_method);
        g_test_add_func("/bus/entity-contracts", test_entity_contracts);
        g_test_add_func("/bus/describe", test_describe);
        g_test_add_func("/bus/config-file", test_config_file);
        g_test_add_func("/bus/idle-exit", test_idle_exit);
        g_test_add_func("/bus/idle-race", test_idle_race);
        g_test_add_func("/bus/sigterm", test_sigterm);
        g_test_add_func("/bus/second-instance", test_second_instance);
        g_test_add_func("/bus/bad-options", test_bad_options);
        g_test_add_func("/bus/policy-unprivileged", test_policy_unprivileged);
        g_test_add_func("/bus/bad-arguments", test_bad_arguments);
        return g_test_run();
}
