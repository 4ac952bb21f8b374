/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Programs through bpfhubd on a private bus, as users and frontends reach
 * them: bpfhubctl with the CLI guide's command lines, D-Bus calls and
 * ObjectManager signals, and a daemon killed at every step. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <json-c/json.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "feature-probes.h"
#include "fixture.h"

typedef struct Env {
        char *scratch;
        BusFixture bus;
        NetnsFixture net;
        sd_bus *client;
} Env;

static bool env_start(Env *e, bool with_net) {
        *e = (Env) {};
        if (!fixture_require_root() || !fixture_require_program("ping"))
                return false;
        e->scratch = fixture_scratch_new("busprog");
        if (with_net && !netns_fixture_start(&e->net, "busprog"))
                return false;
        if (!bus_fixture_start(&e->bus, e->scratch, "--idle-timeout=0"))
                return false;
        e->client = bus_fixture_connect(&e->bus);
        return true;
}

static void env_stop(Env *e) {
        e->client = sd_bus_flush_close_unref(e->client);
        bus_fixture_stop(&e->bus);
        netns_fixture_stop(&e->net);
        fixture_scratch_free(g_steal_pointer(&e->scratch));
}

static json_object *list_programs(void) {
        g_autofree char *out = NULL;
        json_object *j;

        g_assert_cmpint(fixture_bpfhubctl(&out, "list --json=short"), ==, 0);
        j = json_tokener_parse(out);
        g_assert_nonnull(j);
        return j;
}

static uint32_t only_program_id(void) {
        json_object *l = list_programs(), *id;
        uint32_t v;

        g_assert_cmpuint(json_object_array_length(l), ==, 1);
        g_assert_true(json_object_object_get_ex(json_object_array_get_idx(l, 0), "id", &id));
        v = (uint32_t) json_object_get_uint64(id);
        json_object_put(l);
        return v;
}

/* Nothing of bpfhub's is left in bpffs or the state dir. */
static void assert_clean(Env *e) {
        const char *dirs[] = { "programs", "links", "maps" };

        for (size_t i = 0; i < G_N_ELEMENTS(dirs); i++) {
                g_autofree char *pins = g_build_filename(e->bus.bpffs_root, dirs[i], NULL);
                g_autofree char *records = g_build_filename(e->bus.state_dir, dirs[i], NULL);
                g_assert_cmpuint(fixture_count_entries(pins), ==, 0);
                g_assert_cmpuint(fixture_count_entries(records), ==, 0);
        }
}

static uint64_t xdp_counter_packets(Env *e, uint32_t id) {
        g_autofree char *pin = g_strdup_printf("%s/maps/%u/xdp_stats_map", e->bus.bpffs_root, id);
        int n_cpus = libbpf_num_possible_cpus(), fd = bpf_obj_get(pin);
        g_autofree uint64_t *values = g_new0(uint64_t, 2 * (size_t) n_cpus);
        uint32_t key = 0;
        uint64_t sum = 0;

        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(bpf_map_lookup_elem(fd, &key, values), ==, 0);
        for (int c = 0; c < n_cpus; c++)
                sum += values[2 * c]; /* struct datarec { rx_packets, rx_bytes } */
        close(fd);
        return sum;
}

static uint64_t probe_hits(Env *e, uint32_t owner, uint32_t slot) {
        return fixture_read_pinned_u64(e->bus.bpffs_root, owner, "hits", slot);
}

static void ping(Env *e) {
        (void) fixture_run(NULL, "ping -c 3 -i 0.2 -W 1 %s >/dev/null 2>&1", e->net.peer_addr);
}

/* The CLI guide's example, verbatim but for the names. */
static void test_cli_xdp_counter(void) {
        g_autofree char *out = NULL;
        uint64_t before;
        uint32_t id;
        Env e;

        if (!env_start(&e, true))
                return env_stop(&e);

        g_assert_cmpint(fixture_bpfhubctl(&out, "load file --path bpf/xdp-counter.bpf.o --name \"xdp_stats\" xdp --iface %s "
                                      "--priority 35", e.net.host_if), ==, 0);
        g_assert_nonnull(strstr(out, "Bpfhub State"));
        g_assert_nonnull(strstr(out, "Kernel State"));
        g_assert_nonnull(strstr(out, e.net.host_if));
        id = only_program_id();

        before = xdp_counter_packets(&e, id);
        ping(&e);
        g_assert_cmpuint(xdp_counter_packets(&e, id), >=, before + 3);

        g_clear_pointer(&out, g_free);
        g_assert_cmpint(fixture_bpfhubctl(&out, "get %u", id), ==, 0);
        g_assert_nonnull(strstr(out, "xdp_stats"));
        g_assert_nonnull(strstr(out, "Verified Instruction Count:"));

        g_clear_pointer(&out, g_free);
        g_assert_cmpint(fixture_bpfhubctl(&out, "list --all --program-type xdp --no-legend"), ==, 0);
        g_assert_nonnull(strstr(out, "xdp_stats"));

        g_assert_cmpint(fixture_bpfhubctl(NULL, "unload %u", id), ==, 0);
        assert_clean(&e);
        g_assert_cmpint(fixture_run(NULL, "! ip link show dev %s | grep -q xdp", e.net.host_if), ==, 0);
        /* And unknown ids are "not found" (exit 3). */
        g_assert_cmpint(fixture_bpfhubctl(NULL, "unload %u", id), ==, 3);
        g_assert_cmpint(fixture_bpfhubctl(NULL, "get %u", id), ==, 3);
        g_assert_cmpint(fixture_bpfhubctl(NULL, "detach 4242"), ==, 3);
        env_stop(&e);
}

typedef struct Signals {
        GPtrArray *added, *removed;
} Signals;

static int on_added(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Signals *s = userdata;
        const char *path;

        if (sd_bus_message_read(m, "o", &path) >= 0)
                g_ptr_array_add(s->added, g_strdup(path));
        return 0;
}

static int on_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Signals *s = userdata;
        const char *path;

        if (sd_bus_message_read(m, "o", &path) >= 0)
                g_ptr_array_add(s->removed, g_strdup(path));
        return 0;
}

static bool contains(GPtrArray *a, const char *s) {
        for (guint i = 0; i < a->len; i++)
                if (g_str_equal(a->pdata[i], s))
                        return true;
        return false;
}

static void drain(sd_bus *bus) {
        for (int i = 0; i < 50; i++) {
                while (sd_bus_process(bus, NULL) > 0)
                        ;
                (void) sd_bus_wait(bus, 10000);
        }
}

static void test_object_manager_signals(void) {
        Signals s = { g_ptr_array_new_with_free_func(g_free), g_ptr_array_new_with_free_func(g_free) };
        g_autofree char *object = fixture_build_path("bpf/feature-probes.bpf.o");
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *prog_path, *link_path;
        g_autofree char *prog = NULL, *link = NULL;
        uint32_t id, link_id;
        Env e;

        if (!env_start(&e, false))
                return env_stop(&e);

        g_assert_cmpint(sd_bus_match_signal(e.client, NULL, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH,
                                            "org.freedesktop.DBus.ObjectManager", "InterfacesAdded", on_added, &s), >=, 0);
        g_assert_cmpint(sd_bus_match_signal(e.client, NULL, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH,
                                            "org.freedesktop.DBus.ObjectManager", "InterfacesRemoved", on_removed, &s), >=, 0);

        g_assert_cmpint(sd_bus_call_method(e.client, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH, BPFHUB_MANAGER_INTERFACE,
                                           "Load", &error, &reply, "sa(sss)a{sv}", object, 1, "probe_tracepoint",
                                           "tracepoint", "", 1, "group", "s", "signals"), >=, 0);
        g_assert_cmpint(sd_bus_message_read(reply, "a(uo)", 1, &id, &prog_path), >=, 0);
        prog = g_strdup(prog_path);
        reply = sd_bus_message_unref(reply);
        g_assert_cmpint(sd_bus_call_method(e.client, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH, BPFHUB_MANAGER_INTERFACE,
                                           "Attach", &error, &reply, "usa{sv}", id, "tracepoint", 1, "tracepoint", "s",
                                           "syscalls/sys_enter_getppid"), >=, 0);
        g_assert_cmpint(sd_bus_message_read(reply, "uo", &link_id, &link_path), >=, 0);
        link = g_strdup(link_path);
        reply = sd_bus_message_unref(reply);
        drain(e.client);
        g_assert_true(contains(s.added, prog));
        g_assert_true(contains(s.added, link));

        /* The tracepoint program really runs. */
        for (int i = 0; i < 5; i++)
                (void) syscall(SYS_getppid);
        g_assert_cmpuint(probe_hits(&e, id, HIT_TRACEPOINT), >=, 5);

        /* Program1 shows what GetProgram shows, kernel state included. */
        {
                g_autofree char *tag = NULL;
        char *out = NULL;
                json_object *j, *kernel, *v;
                uint32_t verified = 0;
                sd_bus_message *m = NULL;

                g_assert_cmpint(sd_bus_get_property_string(e.client, BPFHUB_BUS_NAME, prog, "org.bpfhub.Program1", "Tag",
                                                           &error, &tag), >=, 0);
                g_assert_cmpint(sd_bus_get_property_trivial(e.client, BPFHUB_BUS_NAME, prog, "org.bpfhub.Program1",
                                                            "VerifiedInstructions", &error, 'u', &verified), >=, 0);
                g_assert_cmpint(sd_bus_call_method(e.client, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH, BPFHUB_MANAGER_INTERFACE,
                                                   "GetProgram", &error, &m, "u", id), >=, 0);
                g_assert_cmpint(sd_bus_message_read(m, "s", &out), >=, 0);
                j = json_tokener_parse(out);
                sd_bus_message_unref(m);
                out = NULL; /* owned by the message */
                g_assert_true(json_object_object_get_ex(j, "kernel", &kernel));
                g_assert_true(json_object_object_get_ex(kernel, "tag", &v));
                g_assert_cmpstr(json_object_get_string(v), ==, tag);
                g_assert_true(json_object_object_get_ex(kernel, "verifiedInstructions", &v));
                g_assert_cmpuint(json_object_get_uint64(v), ==, verified);
                g_assert_cmpuint(verified, >, 0);
                json_object_put(j);
        }

        /* A second link of the same program on sys_enter_openat. */
        {
                uint64_t before = probe_hits(&e, id, HIT_TRACEPOINT);
                g_autofree char *self = NULL;
                g_assert_cmpint(sd_bus_call_method(e.client, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH, BPFHUB_MANAGER_INTERFACE,
                                                   "Attach", &error, NULL, "usa{sv}", id, "tracepoint", 1, "tracepoint", "s",
                                                   "syscalls/sys_enter_openat"), >=, 0);
                for (int i = 0; i < 3; i++) {
                        int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
                        if (fd >= 0)
                                close(fd);
                }
                g_assert_cmpuint(probe_hits(&e, id, HIT_TRACEPOINT), >=, before + 3);
        }

        g_assert_cmpint(sd_bus_call_method(e.client, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH, BPFHUB_MANAGER_INTERFACE,
                                           "UnloadGroup", &error, &reply, "s", "signals"), >=, 0);
        reply = sd_bus_message_unref(reply);
        drain(e.client);
        g_assert_true(contains(s.removed, link));
        g_assert_true(contains(s.removed, prog));
        assert_clean(&e);

        g_ptr_array_unref(s.added);
        g_ptr_array_unref(s.removed);
        env_stop(&e);
}

static void kill_daemon(Env *e) {
        pid_t pid = bus_fixture_daemon_pid(e->client);

        g_assert_cmpint(pid, >, 0);
        g_assert_cmpint(kill(pid, SIGKILL), ==, 0);
        g_assert_true(bus_fixture_wait_name_gone(e->client, 5000));
}

static void test_sigkill_after_load_and_attach(void) {
        g_autofree char *log = NULL;
        json_object *l;
        uint64_t before;
        uint32_t xdp_id, tp_id;
        Env e;

        if (!env_start(&e, true))
                return env_stop(&e);

        /* Killed after a load: the program is still there afterwards. */
        g_assert_cmpint(fixture_bpfhubctl(NULL, "load file --path bpf/feature-probes.bpf.o --name probe_tracepoint tracepoint "
                                      "--tracepoint syscalls/sys_enter_getppid"), ==, 0);
        tp_id = only_program_id();
        kill_daemon(&e);
        g_assert_cmpuint(only_program_id(), ==, tp_id);

        /* Killed after an XDP attach: still attached, still counting. */
        g_assert_cmpint(fixture_bpfhubctl(NULL, "load file --path bpf/xdp-counter.bpf.o --name xdp_stats xdp --iface %s "
                                      "--priority 35", e.net.host_if), ==, 0);
        l = list_programs();
        g_assert_cmpuint(json_object_array_length(l), ==, 2);
        xdp_id = (uint32_t) json_object_get_uint64(json_object_object_get(json_object_array_get_idx(l, 1), "id"));
        json_object_put(l);
        kill_daemon(&e);

        l = list_programs();
        g_assert_cmpuint(json_object_array_length(l), ==, 2);
        json_object_put(l);
        before = xdp_counter_packets(&e, xdp_id);
        ping(&e);
        g_assert_cmpuint(xdp_counter_packets(&e, xdp_id), >=, before + 3);
        before = probe_hits(&e, tp_id, HIT_TRACEPOINT);
        (void) syscall(SYS_getppid);
        g_assert_cmpuint(probe_hits(&e, tp_id, HIT_TRACEPOINT), >, before);

        /* Nothing attached twice: one XDP program on the interface. */
        g_assert_cmpint(fixture_run(NULL, "test $(ip -d link show dev %s | grep -c 'prog/xdp') -eq 1", e.net.host_if), ==, 0);

        g_assert_cmpint(fixture_bpfhubctl(NULL, "unload %u", xdp_id), ==, 0);
        g_assert_cmpint(fixture_bpfhubctl(NULL, "unload %u", tp_id), ==, 0);
        assert_clean(&e);
        env_stop(&e);
}

static void test_sigkill_mid_attach(void) {
        g_autofree char *links_dir = NULL, *log = NULL;
        json_object *j, *rec, *links;
        uint64_t before;
        uint32_t id;
        Env e;

        /* The daemon pauses 10 s between attaching and completing its record. */
        g_setenv("BPFHUB_TEST_PAUSE_AFTER_ATTACH_USEC", "10000000", TRUE);
        if (!env_start(&e, false)) {
                g_unsetenv("BPFHUB_TEST_PAUSE_AFTER_ATTACH_USEC");
                return env_stop(&e);
        }
        g_unsetenv("BPFHUB_TEST_PAUSE_AFTER_ATTACH_USEC");

        {
                g_autofree char *object = fixture_build_path("bpf/feature-probes.bpf.o");
                sd_bus_message *reply = NULL;
                sd_bus_error error = SD_BUS_ERROR_NULL;

                if (sd_bus_call_method(e.client, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH, BPFHUB_MANAGER_INTERFACE, "Load",
                                       &error, &reply, "sa(sss)a{sv}", object, 1, "probe_tracepoint", "tracepoint", "", 0) < 0)
                        g_error("Load: %s", error.message);
                g_assert_cmpint(sd_bus_message_read(reply, "a(uo)", 1, &id, NULL), >=, 0);
                sd_bus_message_unref(reply);
                /* The reply never comes: the daemon dies inside the attach. */
                g_assert_cmpint(sd_bus_call_method_async(e.client, NULL, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH,
                                                         BPFHUB_MANAGER_INTERFACE, "Attach", NULL, NULL, "usa{sv}", id,
                                                         "tracepoint", 1, "tracepoint", "s", "syscalls/sys_enter_getppid"), >=, 0);
                g_assert_cmpint(sd_bus_flush(e.client), >=, 0);
        }
        links_dir = g_build_filename(e.bus.bpffs_root, "links", NULL);
        for (int i = 0; i < 1500 && fixture_count_entries(links_dir) == 0; i++)
                g_usleep(10000);
        g_assert_cmpuint(fixture_count_entries(links_dir), ==, 1);
        kill_daemon(&e);

        /* Restarted: the interrupted attach is recognised and completed, once. */
        g_assert_cmpuint(only_program_id(), ==, id);
        g_assert_cmpint(fixture_bpfhubctl(&log, "get %u --json=short", id), ==, 0);
        j = json_tokener_parse(log);
        g_assert_true(json_object_object_get_ex(j, "bpfhub", &rec));
        g_assert_true(json_object_object_get_ex(rec, "links", &links));
        g_assert_cmpuint(json_object_array_length(links), ==, 1);
        g_assert_true(json_object_get_boolean(json_object_object_get(json_object_array_get_idx(links, 0), "complete")));
        json_object_put(j);
        g_assert_cmpuint(fixture_count_entries(links_dir), ==, 1);
        {
                g_autofree char *bus_log = bus_fixture_read_log(&e.bus);
                g_assert_nonnull(strstr(bus_log, "completed 1 interrupted attaches"));
        }
        before = probe_hits(&e, id, HIT_TRACEPOINT);
        (void) syscall(SYS_getppid);
        g_assert_cmpuint(probe_hits(&e, id, HIT_TRACEPOINT), >, before);

        g_assert_cmpint(fixture_bpfhubctl(NULL, "unload %u", id), ==, 0);
        assert_clean(&e);
        env_stop(&e);
}

static void test_bad_input(void) {
        g_autofree char *object = fixture_build_path("bpf/feature-probes.bpf.o");
        static const struct {
                const char *args, *stderr_needle;
                int status;
        } cases[] = {
                { "load file --path /nonexistent.o --name x xdp --iface lo --priority 1", "Cannot open /nonexistent.o", 1 },
                { "load file --path no/such/relative.o --name x xdp --iface lo --priority 1", "Cannot find no/such/relative.o", 1 },
                { "load file --path bpf/feature-probes.bpf.o --name probe_xdp xdp --iface no-such-if0 --priority 1", "No interface 'no-such-if0'", 1 },
                { "load file --path bpf/feature-probes.bpf.o --name nope xdp --iface lo --priority 1", "has no program (function) named 'nope'", 1 },
                { "load file --path bpf/feature-probes.bpf.o --name probe_xdp xdp --iface lo", "needs --priority", 2 },
                { "load file --path bpf/feature-probes.bpf.o --name probe_xdp bogus", "Unknown program type 'bogus'", 2 },
                { "load file --path bpf/feature-probes.bpf.o --name probe_xdp -g x=zz xdp --iface lo --priority 1", "Invalid global", 1 },
                { "attach 4242 tracepoint --tracepoint syscalls/sys_enter_getppid", "No managed program 4242", 3 },
                { "detach 4242", "No link 4242", 3 },
                { "unload 0", "expected a positive number", 2 },
                { "load file --path / --name x xdp --iface lo --priority 1", "is not a regular file", 1 },
        };
        sd_bus_error error = SD_BUS_ERROR_NULL;
        Env e;

        if (!env_start(&e, false))
                return env_stop(&e);

        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autofree char *out = NULL;
                int status = fixture_bpfhubctl(&out, "%s 2>&1", cases[i].args);
                if (status != cases[i].status || !strstr(out, cases[i].stderr_needle))
                        g_error("bpfhubctl %s: exit %d, expected %d with '%s', got: %s", cases[i].args, status,
                                cases[i].status, cases[i].stderr_needle, out);
                assert_clean(&e);
        }

        /* Raw D-Bus: a relative path, an unknown option, a wrong option type. */
        g_assert_cmpint(sd_bus_call_method(e.client, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH, BPFHUB_MANAGER_INTERFACE,
                                           "Load", &error, NULL, "sa(sss)a{sv}", "relative.o", 1, "x", "xdp", "", 0), <, 0);
        g_assert_true(sd_bus_error_has_name(&error, SD_BUS_ERROR_INVALID_ARGS));
        sd_bus_error_free(&error);
        g_assert_cmpint(sd_bus_call_method(e.client, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH, BPFHUB_MANAGER_INTERFACE,
                                           "Load", &error, NULL, "sa(sss)a{sv}", object, 1, "probe_xdp", "xdp", "", 1,
                                           "colour", "s", "blue"), <, 0);
        g_assert_true(sd_bus_error_has_name(&error, SD_BUS_ERROR_INVALID_ARGS));
        g_assert_nonnull(strstr(error.message, "colour"));
        sd_bus_error_free(&error);
        g_assert_cmpint(sd_bus_call_method(e.client, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH, BPFHUB_MANAGER_INTERFACE,
                                           "Load", &error, NULL, "sa(sss)a{sv}", object, 1, "probe_xdp", "xdp", "", 1,
                                           "map_owner_id", "s", "12"), <, 0);
        g_assert_true(sd_bus_error_has_name(&error, SD_BUS_ERROR_INVALID_ARGS));
        sd_bus_error_free(&error);
        g_assert_cmpint(sd_bus_call_method(e.client, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH, BPFHUB_MANAGER_INTERFACE,
                                           "Load", &error, NULL, "sa(sss)a{sv}", object, 1, "probe_fentry", "fentry",
                                           "do_unlinkat", 0), <, 0);
        /* fentry: refused here with the feature named, or loaded where the kernel can. */
        if (sd_bus_error_is_set(&error)) {
                g_assert_true(sd_bus_error_has_name(&error, "org.bpfhub.Error.UnsupportedByKernel"));
                g_assert_nonnull(strstr(error.message, "'tracing'"));
        }
        sd_bus_error_free(&error);
        assert_clean(&e);
        env_stop(&e);
}


/* list --iface: every program on an interface's hooks in run order,
 * including one bpfhub did not attach; get shows each link's position. */
static uint32_t cli_load_tcx(int priority, const char *iface) {
        g_autofree char *out = NULL;
        json_object *j, *rec;
        uint32_t id;

        g_assert_cmpint(fixture_bpfhubctl(&out, "--json=short load file --path bpf/feature-probes.bpf.o --name probe_tc tcx "
                                "--iface %s --direction ingress --priority %d", iface, priority), ==, 0);
        j = json_tokener_parse(out);
        g_assert_nonnull(j);
        g_assert_true(json_object_object_get_ex(j, "kernel", &rec));
        g_assert_true(json_object_object_get_ex(rec, "id", &rec));
        id = (uint32_t) json_object_get_uint64(rec);
        json_object_put(j);
        return id;
}

static void test_list_iface(void) {
        g_autofree char *object = fixture_build_path("bpf/feature-probes.bpf.o"), *out = NULL;
        struct bpf_object *obj;
        struct bpf_program *prog;
        uint32_t late, early, legacy, foreign = 0;
        json_object *list, *e, *v;
        Env e_;

        if (!env_start(&e_, true))
                return env_stop(&e_);
        late = cli_load_tcx(50, e_.net.host_if);
        early = cli_load_tcx(10, e_.net.host_if);
        {
                g_autofree char *o = NULL;
                g_assert_cmpint(fixture_bpfhubctl(&o, "--json=short load file --path bpf/feature-probes.bpf.o --name probe_tc tc "
                                        "--iface %s --direction ingress --priority 5", e_.net.host_if), ==, 0);
                legacy = (uint32_t) g_ascii_strtoull(strstr(strstr(o, "\"kernel\":{"), "\"id\":") + 5, NULL, 10);
        }

        /* A foreign XDP program, attached with libbpf directly. */
        obj = bpf_object__open_file(object, NULL);
        g_assert_nonnull(obj);
        bpf_object__for_each_program(prog, obj)
                bpf_program__set_autoload(prog, g_str_equal(bpf_program__name(prog), "probe_xdp"));
        g_assert_cmpint(bpf_object__load(obj), ==, 0);
        prog = bpf_object__find_program_by_name(obj, "probe_xdp");
        g_assert_cmpint(bpf_xdp_attach(e_.net.host_ifindex, bpf_program__fd(prog), XDP_FLAGS_SKB_MODE, NULL), ==, 0);
        {
                struct bpf_prog_info info = {};
                uint32_t len = sizeof info;
                g_assert_cmpint(bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len), ==, 0);
                foreign = info.id;
        }

        g_assert_cmpint(fixture_bpfhubctl(&out, "list --iface %s --json=short", e_.net.host_if), ==, 0);
        list = json_tokener_parse(out);
        g_assert_nonnull(list);
        g_assert_cmpuint(json_object_array_length(list), ==, 4);
        {
                /* Run order: XDP, then per direction TCX links before legacy tc filters. */
                static const char *const hooks[] = { "xdp", "tcx-ingress", "tcx-ingress", "tc-ingress" };
                uint32_t ids[] = { foreign, early, late, legacy };
                bool managed[] = { false, true, true, true };
                uint64_t positions[] = { 0, 0, 1, 0 };
                for (size_t i = 0; i < 4; i++) {
                        e = json_object_array_get_idx(list, i);
                        g_assert_true(json_object_object_get_ex(e, "hook", &v));
                        g_assert_cmpstr(json_object_get_string(v), ==, hooks[i]);
                        g_assert_true(json_object_object_get_ex(e, "id", &v));
                        g_assert_cmpuint(json_object_get_uint64(v), ==, ids[i]);
                        g_assert_true(json_object_object_get_ex(e, "managed", &v));
                        g_assert_cmpint(json_object_get_boolean(v), ==, managed[i]);
                        g_assert_true(json_object_object_get_ex(e, "position", &v));
                        g_assert_cmpuint(json_object_get_uint64(v), ==, positions[i]);
                }
        }
        json_object_put(list);
        g_clear_pointer(&out, g_free);
        g_assert_cmpint(fixture_bpfhubctl(&out, "list --iface %s", e_.net.host_if), ==, 0);
        g_assert_nonnull(strstr(out, "xdp (generic)"));
        g_clear_pointer(&out, g_free);
        g_assert_cmpint(fixture_bpfhubctl(&out, "get %u", late), ==, 0);
        g_assert_nonnull(strstr(out, "Position:"));
        g_assert_nonnull(g_strstr_len(strstr(out, "Position:"), 64, "1"));
        g_clear_pointer(&out, g_free);
        g_assert_cmpint(fixture_bpfhubctl(&out, "list --iface no-such-if0 2>&1"), !=, 0);
        g_assert_nonnull(strstr(out, "No interface"));

        g_assert_cmpint(bpf_xdp_detach(e_.net.host_ifindex, XDP_FLAGS_SKB_MODE, NULL), ==, 0);
        bpf_object__close(obj);
        g_assert_cmpint(fixture_bpfhubctl(NULL, "unload %u", late), ==, 0);
        g_assert_cmpint(fixture_bpfhubctl(NULL, "unload %u", early), ==, 0);
        g_assert_cmpint(fixture_bpfhubctl(NULL, "unload %u", legacy), ==, 0);
        assert_clean(&e_);
        env_stop(&e_);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        signal(SIGPIPE, SIG_IGN);
        g_test_add_func("/programs/cli-xdp-counter", test_cli_xdp_counter);
        g_test_add_func("/programs/object-manager-signals", test_object_manager_signals);
        g_test_add_func("/programs/sigkill-after-load-and-attach", test_sigkill_after_load_and_attach);
        g_test_add_func("/programs/sigkill-mid-attach", test_sigkill_mid_attach);
        g_test_add_func("/programs/bad-input", test_bad_input);
        g_test_add_func("/programs/list-iface", test_list_iface);
        return g_test_run();
}
