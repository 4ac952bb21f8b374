/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Authorization through a real polkitd on the private bus: root passes
 * without asking, uid 65534 is denied by default and leaves no trace, rules
 * can grant by group and by attach details. */
#include <grp.h>
#include <sys/mman.h>
#include <bpf/bpf.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "fixture.h"

typedef struct Env {
        char *scratch;
        BusFixture bus;
        NetnsFixture net;
        sd_bus *client;
        char *object;
} Env;

static bool env_start(Env *e, const char *rules, const char *group_line, bool with_net) {
        *e = (Env) { .object = fixture_build_path("bpf/feature-probes.bpf.o") };
        if (!fixture_require_root())
                return false;
        e->scratch = fixture_scratch_new("polkit");
        if (with_net && !netns_fixture_start(&e->net, "polkit"))
                return false;
        if (!bus_fixture_start(&e->bus, e->scratch, "--idle-timeout=0") ||
            !bus_fixture_add_polkit(&e->bus, rules, group_line))
                return false;
        e->client = bus_fixture_connect(&e->bus);
        return true;
}

static void env_stop(Env *e) {
        e->client = sd_bus_flush_close_unref(e->client);
        bus_fixture_stop(&e->bus);
        netns_fixture_stop(&e->net);
        fixture_scratch_free(g_steal_pointer(&e->scratch));
        g_free(e->object);
}

typedef struct Call {
        const char *method;
        const char *iface;      /* Attach: interface */
        uint32_t program_id;
        /* out */
        char error_name[128];
        char error_message[256];
        uint32_t id;
} Call;

static int do_call(sd_bus *bus, const char *object, Call *c) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *m = NULL, *reply = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH, BPFHUB_MANAGER_INTERFACE,
                                           c->method);
        if (r < 0)
                return r;
        /* Never interactive: no agent runs in these tests. */
        (void) sd_bus_message_set_allow_interactive_authorization(m, false);
        if (g_str_equal(c->method, "Load"))
                r = sd_bus_message_append(m, "sa(sss)a{sv}", object, 1, "probe_xdp", "xdp", "", 0);
        else if (g_str_equal(c->method, "Attach"))
                r = sd_bus_message_append(m, "usa{sv}", c->program_id, "xdp", 2, "iface", "s", c->iface, "priority", "i", 5);
        else if (g_str_equal(c->method, "ListPrograms") || g_str_equal(c->method, "ListImages") ||
                 g_str_equal(c->method, "PruneImages"))
                r = sd_bus_message_append(m, "a{sv}", 0);
        else if (g_str_equal(c->method, "PullImage"))
                r = sd_bus_message_append(m, "sa{sv}", "127.0.0.1:9/bpfhub/never:v1", 0);
        else if (g_str_equal(c->method, "GetImage") || g_str_equal(c->method, "RemoveImage") ||
                 g_str_equal(c->method, "UnloadGroup"))
                r = sd_bus_message_append(m, "s", g_str_equal(c->method, "UnloadGroup") ? "g" : "127.0.0.1:9/bpfhub/never:v1");
        else if (g_str_equal(c->method, "Describe"))
                r = 0;
        else
                r = sd_bus_message_append(m, "u", c->program_id);
        if (r < 0)
                return r;
        r = sd_bus_call(bus, m, 0, &error, &reply);
        if (r < 0) {
                g_strlcpy(c->error_name, error.name ?: "", sizeof c->error_name);
                g_strlcpy(c->error_message, error.message ?: "", sizeof c->error_message);
        } else if (g_str_equal(c->method, "Load"))
                (void) sd_bus_message_read(reply, "a(uo)", 1, &c->id, NULL);
        else if (g_str_equal(c->method, "Attach"))
                (void) sd_bus_message_read(reply, "uo", &c->id, NULL);
        sd_bus_error_free(&error);
        sd_bus_message_unref(reply);
        sd_bus_message_unref(m);
        return r;
}

typedef struct NobodyCall {
        Env *env;
        Call *call;             /* in a shared mapping: the child writes the result */
} NobodyCall;

static int nobody_call(sd_bus *bus, void *userdata) {
        NobodyCall *nc = userdata;

        return do_call(bus, nc->env->object, nc->call) < 0 ? 1 : 0;
}

/* Makes the call as uid/gid 65534 ("nobody"); the result comes back through
 * a shared anonymous mapping. */
static void call_as_nobody(Env *e, Call *c) {
        Call *shared = mmap(NULL, sizeof(Call), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        NobodyCall nc = { .env = e, .call = shared };

        g_assert_true(shared != MAP_FAILED);
        *shared = *c;
        g_assert_cmpint(bus_fixture_as_nobody(&e->bus, nobody_call, &nc), !=, FIXTURE_NOBODY_SETUP_FAILED);
        *c = *shared;
        munmap(shared, sizeof(Call));
}

static unsigned count_programs(Env *e) {
        g_autofree char *dir = g_build_filename(e->bus.bpffs_root, "programs", NULL);
        return fixture_count_entries(dir);
}

static const char deny_all[] =
        "polkit.addRule(function(action, subject) {\n"
        "    if (action.id.indexOf(\"org.bpfhub.\") == 0)\n"
        "        return polkit.Result.NO;\n"
        "});\n";

static void test_root_without_polkit(void) {
        Call c = { .method = "Load" };
        Env e;

        if (!env_start(&e, deny_all, NULL, false))
                return env_stop(&e);
        g_assert_cmpint(do_call(e.client, e.object, &c), >=, 0);
        g_assert_cmpuint(count_programs(&e), ==, 1);
        /* Root never asked: polkitd was not even started. */
        {
                sd_bus_message *reply = NULL;
                int has = 1;
                g_assert_cmpint(sd_bus_call_method(e.client, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                                   "org.freedesktop.DBus", "NameHasOwner", NULL, &reply, "s",
                                                   "org.freedesktop.PolicyKit1"), >=, 0);
                g_assert_cmpint(sd_bus_message_read(reply, "b", &has), >=, 0);
                g_assert_false(has);
                sd_bus_message_unref(reply);
        }
        env_stop(&e);
}

static void test_nobody_denied(void) {
        unsigned kernel_before;
        static const char *const methods[] = { "Load", "Attach", "ListPrograms", "GetProgram", "Unload", "UnloadGroup",
                                               "Detach", "Describe", "PullImage", "ListImages", "GetImage",
                                               "RemoveImage", "PruneImages" };
        Call load = { .method = "Load" };
        Env e;

        /* No rules: the action defaults apply (auth_admin for anyone without
         * an active session, and there is none here). */
        if (!env_start(&e, "// no rules\n", NULL, false))
                return env_stop(&e);
        /* Something for the reading and unloading methods to find. */
        g_assert_cmpint(do_call(e.client, e.object, &load), >=, 0);
        kernel_before = fixture_count_kernel_programs();

        for (size_t i = 0; i < G_N_ELEMENTS(methods); i++) {
                Call c = { .method = methods[i], .program_id = load.id };
                call_as_nobody(&e, &c);
                g_printerr("# nobody %s -> %s: %s\n", methods[i], c.error_name, c.error_message);
                if (!g_str_equal(c.error_name, SD_BUS_ERROR_ACCESS_DENIED) &&
                    !g_str_equal(c.error_name, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED))
                        g_error("nobody %s was not denied: '%s'", methods[i], c.error_name);
                /* ...and changed nothing: the one program, no link, an empty store, no transfer. */
                g_assert_cmpuint(count_programs(&e), ==, 1);
                g_assert_cmpuint(fixture_count_kernel_programs(), ==, kernel_before);
                {
                        g_autofree char *links = g_build_filename(e.bus.bpffs_root, "links", NULL);
                        g_autofree char *blobs = g_build_filename(e.bus.image_store, "blobs", "sha256", NULL);
                        g_autofree char *ingest = g_build_filename(e.bus.image_store, "ingest", NULL);
                        g_assert_cmpuint(fixture_count_entries(links), ==, 0);
                        g_assert_cmpuint(fixture_count_entries(blobs), ==, 0);
                        g_assert_cmpuint(fixture_count_entries(ingest), ==, 0);
                }
        }
        /* Nothing changed: still exactly the one program root loaded. */
        g_assert_cmpuint(count_programs(&e), ==, 1);

        /* Without an agent and without the interactive flag, polkit's
         * auth_admin becomes "interactive authorization required". */
        {
                Call c = { .method = "Load" };
                call_as_nobody(&e, &c);
                g_assert_cmpstr(c.error_name, ==, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED);
                g_assert_nonnull(strstr(c.error_message, "Authentication is required"));
        }
        g_assert_cmpuint(count_programs(&e), ==, 1);

        /* The client as that user: exit 4 and polkit's reason, with or
         * without --no-ask-password (no terminal here, so no agent). */
        {
                g_autofree char *ctl = fixture_build_path("client/bpfhubctl");
                g_autofree char *out = NULL;
                int status;

                status = fixture_run(&out, "setpriv --reuid=65534 --regid=65534 --clear-groups %s --no-ask-password list 2>&1",
                                     ctl);
                g_assert_cmpint(status, ==, 4);
                g_assert_nonnull(strstr(out, "Authentication is required for org.bpfhub.inspect"));
                g_clear_pointer(&out, g_free);
                status = fixture_run(&out, "setpriv --reuid=65534 --regid=65534 --clear-groups %s list </dev/null 2>&1", ctl);
                g_assert_cmpint(status, ==, 4);
                g_assert_nonnull(strstr(out, "org.bpfhub.inspect"));
        }
        env_stop(&e);
}


/* What a caller without org.bpfhub.inspect sees of a loaded program through
 * the generic D-Bus interfaces: nothing. Run as nobody; userdata: the id. */
static int nobody_looks(sd_bus *bus, void *userdata) {
        uint32_t id = *(uint32_t *) userdata;
        g_autofree char *path = g_strdup_printf("/org/bpfhub/Manager1/program/%u", id);
        g_autofree char *node = g_strdup_printf("<node name=\"%u\"", id);
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *xml;
        char *name = NULL;
        int n = 0;

        if (sd_bus_call_method(bus, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH, BPFHUB_MANAGER_INTERFACE, "Describe", &error,
                               NULL, NULL) >= 0 || !(sd_bus_error_has_name(&error, SD_BUS_ERROR_ACCESS_DENIED) ||
                                                     sd_bus_error_has_name(&error, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED)))
                return 1;
        sd_bus_error_free(&error);
        if (sd_bus_call_method(bus, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH, "org.freedesktop.DBus.ObjectManager",
                               "GetManagedObjects", &error, &reply, NULL) < 0 ||
            sd_bus_message_enter_container(reply, 'a', "{oa{sa{sv}}}") < 0)
                return 2;
        while (sd_bus_message_skip(reply, "{oa{sa{sv}}}") > 0)
                n++;
        reply = sd_bus_message_unref(reply);
        if (n != 0)
                return 3;
        if (sd_bus_call_method(bus, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH "/program", "org.freedesktop.DBus.Introspectable",
                               "Introspect", &error, &reply, NULL) < 0 || sd_bus_message_read(reply, "s", &xml) < 0 ||
            strstr(xml, node))
                return 4;
        reply = sd_bus_message_unref(reply);
        if (sd_bus_get_property_string(bus, BPFHUB_BUS_NAME, path, "org.bpfhub.Program1", "Name", &error, &name) >= 0)
                return 5;
        sd_bus_error_free(&error);
        return 0;
}

static int count_interfaces_added(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        (*(unsigned *) userdata)++;
        return 0;
}

/* A connection authenticated as uid 65534, made in this process: the bus
 * records the credentials at connect time, and the saved uid lets us return. */
static sd_bus *connect_as_nobody(BusFixture *f) {
        sd_bus *bus = NULL;

        g_assert_cmpint(chmod(f->scratch, 0755), ==, 0);
        g_assert_cmpint(setresgid(65534, 65534, 0), ==, 0);
        g_assert_cmpint(setresuid(65534, 65534, 0), ==, 0);
        g_assert_cmpint(sd_bus_open_system(&bus), >=, 0);
        g_assert_cmpint(sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                           "GetId", NULL, NULL, NULL), >=, 0);
        g_assert_cmpint(setresuid(0, 0, 0), ==, 0);
        g_assert_cmpint(setresgid(0, 0, 0), ==, 0);
        return bus;
}

static void pump(sd_bus *bus, unsigned ms) {
        gint64 end = g_get_monotonic_time() + (gint64) ms * 1000;

        while (g_get_monotonic_time() < end)
                if (sd_bus_process(bus, NULL) == 0)
                        (void) sd_bus_wait(bus, 50000);
}

static void test_nobody_sees_nothing(void) {
        Call load = { .method = "Load" }, second = { .method = "Load" };
        sd_bus *nobody;
        unsigned seen_by_nobody = 0, seen_by_root = 0;
        Env e;

        if (!env_start(&e, "// no rules\n", NULL, false))
                return env_stop(&e);
        g_assert_cmpint(do_call(e.client, e.object, &load), >=, 0);
        g_assert_cmpint(bus_fixture_as_nobody(&e.bus, nobody_looks, &load.id), ==, 0);

        /* ObjectManager signals: the bus policy keeps them from non-root. */
        nobody = connect_as_nobody(&e.bus);
        g_assert_cmpint(sd_bus_match_signal(nobody, NULL, NULL, NULL, "org.freedesktop.DBus.ObjectManager", "InterfacesAdded",
                                            count_interfaces_added, &seen_by_nobody), >=, 0);
        g_assert_cmpint(sd_bus_match_signal(e.client, NULL, NULL, NULL, "org.freedesktop.DBus.ObjectManager", "InterfacesAdded",
                                            count_interfaces_added, &seen_by_root), >=, 0);
        g_assert_cmpint(do_call(e.client, e.object, &second), >=, 0);
        pump(e.client, 300);
        pump(nobody, 700);
        g_assert_cmpuint(seen_by_root, >=, 1);
        g_assert_cmpuint(seen_by_nobody, ==, 0);
        sd_bus_flush_close_unref(nobody);
        env_stop(&e);
}

/* Once polkit allowed org.bpfhub.inspect (here through ListPrograms), the
 * objects open up to that connection. Run as nobody in the granted group. */
static int granted_looks(sd_bus *bus, void *userdata) {
        uint32_t id = *(uint32_t *) userdata;
        g_autofree char *path = g_strdup_printf("/org/bpfhub/Manager1/program/%u", id);
        sd_bus_error error = SD_BUS_ERROR_NULL;
        char *name = NULL;
        int r;

        if (sd_bus_get_property_string(bus, BPFHUB_BUS_NAME, path, "org.bpfhub.Program1", "Name", &error, &name) >= 0)
                return 1;       /* not before polkit said yes */
        sd_bus_error_free(&error);
        if (sd_bus_call_method(bus, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH, BPFHUB_MANAGER_INTERFACE, "ListPrograms", &error,
                               NULL, "a{sv}", 0) < 0)
                return 2;
        r = sd_bus_get_property_string(bus, BPFHUB_BUS_NAME, path, "org.bpfhub.Program1", "Name", &error, &name);
        if (r < 0 || !g_str_equal(name, "probe_xdp"))
                return 3;
        free(name);
        return 0;
}

/* polkitd goes away (and cannot be activated again): non-root callers are
 * denied, whatever the rules said, and root carries on. */
static void test_polkitd_stopped(void) {
        static const char rules[] =
                "polkit.addRule(function(action, subject) {\n"
                "    if (action.id.indexOf(\"org.bpfhub.\") == 0 && subject.isInGroup(\"bpfhubtest\"))\n"
                "        return polkit.Result.YES;\n"
                "});\n";
        Call allowed = { .method = "ListPrograms" }, denied = { .method = "Load" }, listed = { .method = "ListPrograms" };
        Call root = { .method = "Load" };
        g_autofree char *service = NULL;
        sd_bus_message *reply = NULL;
        uint32_t pid = 0;
        Env e;

        if (!env_start(&e, rules, "bpfhubtest:x:4242:nobody", false))
                return env_stop(&e);
        call_as_nobody(&e, &allowed);
        g_assert_cmpstr(allowed.error_name, ==, "");

        service = g_build_filename(e.bus.dir, "services", "org.freedesktop.PolicyKit1.service", NULL);
        g_assert_cmpint(unlink(service), ==, 0);
        g_assert_cmpint(sd_bus_call_method(e.client, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                           "ReloadConfig", NULL, NULL, NULL), >=, 0);
        g_assert_cmpint(sd_bus_call_method(e.client, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                           "GetConnectionUnixProcessID", NULL, &reply, "s", "org.freedesktop.PolicyKit1"), >=, 0);
        g_assert_cmpint(sd_bus_message_read(reply, "u", &pid), >=, 0);
        sd_bus_message_unref(reply);
        g_assert_cmpint(kill((pid_t) pid, SIGKILL), ==, 0);
        for (int i = 0; i < 100; i++) {
                int has = 1;
                reply = NULL;
                g_assert_cmpint(sd_bus_call_method(e.client, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                                   "org.freedesktop.DBus", "NameHasOwner", NULL, &reply, "s",
                                                   "org.freedesktop.PolicyKit1"), >=, 0);
                g_assert_cmpint(sd_bus_message_read(reply, "b", &has), >=, 0);
                sd_bus_message_unref(reply);
                if (!has)
                        break;
                g_usleep(20000);
        }

        call_as_nobody(&e, &denied);
        g_printerr("# nobody Load without polkitd -> %s: %s\n", denied.error_name, denied.error_message);
        g_assert_cmpstr(denied.error_name, ==, SD_BUS_ERROR_ACCESS_DENIED);
        g_assert_nonnull(strstr(denied.error_message, "polkit could not be asked"));
        call_as_nobody(&e, &listed);
        g_assert_cmpstr(listed.error_name, ==, SD_BUS_ERROR_ACCESS_DENIED);
        g_assert_cmpuint(count_programs(&e), ==, 0);

        g_assert_cmpint(do_call(e.client, e.object, &root), >=, 0);
        g_assert_cmpuint(count_programs(&e), ==, 1);
        env_stop(&e);
}

static void test_group_rule(void) {
        static const char rules[] =
                "polkit.addRule(function(action, subject) {\n"
                "    if (action.id.indexOf(\"org.bpfhub.\") == 0 && subject.isInGroup(\"bpfhubtest\"))\n"
                "        return polkit.Result.YES;\n"
                "});\n";
        Call c = { .method = "Load" }, u;
        Env e;

        if (!env_start(&e, rules, "bpfhubtest:x:4242:nobody", false))
                return env_stop(&e);
        call_as_nobody(&e, &c);
        g_assert_cmpstr(c.error_name, ==, "");
        g_assert_cmpuint(c.id, >, 0);
        g_assert_cmpuint(count_programs(&e), ==, 1);
        {
                g_autofree char *ctl = fixture_build_path("client/bpfhubctl");
                g_autofree char *out = NULL;
                g_assert_cmpint(fixture_run(&out, "setpriv --reuid=65534 --regid=65534 --clear-groups %s --no-legend list", ctl), ==, 0);
                g_assert_nonnull(strstr(out, "probe_xdp"));
        }
        g_assert_cmpint(bus_fixture_as_nobody(&e.bus, granted_looks, &c.id), ==, 0);
        u = (Call) { .method = "Unload", .program_id = c.id };
        call_as_nobody(&e, &u);
        g_assert_cmpstr(u.error_name, ==, "");
        g_assert_cmpuint(count_programs(&e), ==, 0);
        env_stop(&e);
}

static void test_interface_rule(void) {
        g_autofree char *rules = NULL;
        Call load = { .method = "Load" }, ok, bad;
        Env e;

        if (!fixture_require_root())
                return;
        /* Members of the group may load, and attach XDP only on one interface,
         * whose name is known once the netns fixture made it. */
        e = (Env) { .object = fixture_build_path("bpf/feature-probes.bpf.o") };
        e.scratch = fixture_scratch_new("polkit");
        if (!netns_fixture_start(&e.net, "polkit") || !bus_fixture_start(&e.bus, e.scratch, "--idle-timeout=0"))
                return env_stop(&e);
        /* The example the project ships, with its group and interface swapped
         * for the test's: what the docs recommend is what gets tested. */
        {
                g_autofree char *example_path = fixture_source_path("polkit/50-bpfhub-netops.rules.example");
                g_autofree char *example = NULL, *iface = g_strdup_printf("\"%s\"", e.net.host_if);
                g_autoptr(GString) text = NULL;

                g_assert_true(g_file_get_contents(example_path, &example, NULL, NULL));
                text = g_string_new(example);
                g_assert_cmpuint(g_string_replace(text, "\"netops\"", "\"bpfhubtest\"", 0), >=, 1);
                g_assert_cmpuint(g_string_replace(text, "\"eth1\"", iface, 0), >=, 1);
                rules = g_strdup(text->str);
        }
        if (!bus_fixture_add_polkit(&e.bus, rules, "bpfhubtest:x:4242:nobody"))
                return env_stop(&e);
        e.client = bus_fixture_connect(&e.bus);

        call_as_nobody(&e, &load);
        g_assert_cmpstr(load.error_name, ==, "");

        bad = (Call) { .method = "Attach", .program_id = load.id, .iface = "lo" };
        call_as_nobody(&e, &bad);
        g_assert_cmpstr(bad.error_name, ==, SD_BUS_ERROR_ACCESS_DENIED);
        {
                g_autofree char *links = g_build_filename(e.bus.bpffs_root, "links", NULL);
                g_assert_cmpuint(fixture_count_entries(links), ==, 0);
        }

        ok = (Call) { .method = "Attach", .program_id = load.id, .iface = e.net.host_if };
        call_as_nobody(&e, &ok);
        g_assert_cmpstr(ok.error_name, ==, "");
        g_assert_cmpint(fixture_run(NULL, "ip link show dev %s | grep -q xdp", e.net.host_if), ==, 0);

        /* Unloading was not granted. */
        {
                Call u = { .method = "Unload", .program_id = load.id };
                call_as_nobody(&e, &u);
                g_assert_cmpstr(u.error_name, !=, "");
                g_assert_cmpint(do_call(e.client, e.object, &u), >=, 0);
        }
        env_stop(&e);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/polkit/root-without-polkit", test_root_without_polkit);
        g_test_add_func("/polkit/nobody-denied", test_nobody_denied);
        g_test_add_func("/polkit/nobody-sees-nothing", test_nobody_sees_nothing);
        g_test_add_func("/polkit/group-rule", test_group_rule);
        g_test_add_func("/polkit/polkitd-stopped", test_polkitd_stopped);
        g_test_add_func("/polkit/interface-rule", test_interface_rule);
        return g_test_run();
}
