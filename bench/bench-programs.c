/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* How much bpfhubd costs over doing the work directly, measured in one run
 * on this machine:
 *   1. load + attach N tracepoint programs through bpfhubd (D-Bus, pins,
 *      records) vs a plain libbpf loader doing load + attach in-process;
 *   2. with M managed programs: ListPrograms vs `bpftool prog show --json`,
 *      and GetProgram vs `bpftool prog show id ID --json`.
 * Prints the figures and their ratios. Not a test: nothing is asserted. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>
#include <linux/perf_event.h>
#include <sys/syscall.h>

#include "fixture.h"

static double now_ms(void) {
        return (double) g_get_monotonic_time() / 1000.0;
}

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap) {
        return 0;
}

/* A tracepoint takes at most 64 BPF programs: spread the attaches. */
static const char *const tracepoints[] = {
        "sys_enter_getppid", "sys_enter_getpid", "sys_enter_gettid", "sys_enter_getuid", "sys_enter_geteuid",
};

static uint64_t tracepoint_id(const char *tracefs, unsigned i) {
        g_autofree char *rel = g_strdup_printf("events/syscalls/%s/id", tracepoints[i % G_N_ELEMENTS(tracepoints)]);
        g_autofree char *path = g_build_filename(tracefs, rel, NULL);
        g_autofree char *text = NULL;

        if (!g_file_get_contents(path, &text, NULL, NULL))
                g_error("cannot read %s", path);
        return g_ascii_strtoull(text, NULL, 10);
}

/* What a program doing it by hand does: open, load, perf event, link. */
static double plain_libbpf(const char *object, const char *tracefs, unsigned n) {
        struct bpf_object **objs = g_new0(struct bpf_object *, n);
        int *links = g_new0(int, n);
        uint64_t tp_ids[G_N_ELEMENTS(tracepoints)];
        double start, elapsed;

        for (unsigned i = 0; i < G_N_ELEMENTS(tracepoints); i++)
                tp_ids[i] = tracepoint_id(tracefs, i);
        start = now_ms();

        for (unsigned i = 0; i < n; i++) {
                struct bpf_program *p, *prog = NULL;
                struct perf_event_attr attr = { .type = PERF_TYPE_TRACEPOINT, .size = sizeof attr,
                                                .config = tp_ids[i % G_N_ELEMENTS(tracepoints)] };
                int pfd;

                objs[i] = bpf_object__open_file(object, NULL);
                bpf_object__for_each_program(p, objs[i]) {
                        bool mine = g_str_equal(bpf_program__name(p), "probe_tracepoint");
                        bpf_program__set_autoload(p, mine);
                        if (mine)
                                prog = p;
                }
                if (bpf_object__load(objs[i]) < 0)
                        g_error("plain load failed: %s", g_strerror(errno));
                pfd = (int) syscall(SYS_perf_event_open, &attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);
                if (pfd < 0)
                        g_error("perf_event_open failed: %s", g_strerror(errno));
                links[i] = bpf_link_create(bpf_program__fd(prog), pfd, BPF_PERF_EVENT, NULL);
                close(pfd);
                if (links[i] < 0)
                        g_error("plain attach failed: %s", g_strerror(errno));
        }
        elapsed = now_ms() - start;
        for (unsigned i = 0; i < n; i++) {
                close(links[i]);
                bpf_object__close(objs[i]);
        }
        g_free(objs);
        g_free(links);
        return elapsed;
}

static uint32_t bus_load(sd_bus *bus, const char *object) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        uint32_t id;

        if (sd_bus_call_method(bus, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH, BPFHUB_MANAGER_INTERFACE, "Load", &error,
                               &reply, "sa(sss)a{sv}", object, 1, "probe_tracepoint", "tracepoint", "", 0) < 0)
                g_error("Load: %s", error.message);
        g_assert_cmpint(sd_bus_message_read(reply, "a(uo)", 1, &id, NULL), >=, 0);
        sd_bus_message_unref(reply);
        return id;
}

static void bus_attach(sd_bus *bus, uint32_t id, unsigned i) {
        g_autofree char *tp = g_strdup_printf("syscalls/%s", tracepoints[i % G_N_ELEMENTS(tracepoints)]);
        sd_bus_error error = SD_BUS_ERROR_NULL;

        if (sd_bus_call_method(bus, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH, BPFHUB_MANAGER_INTERFACE, "Attach", &error,
                               NULL, "usa{sv}", id, "tracepoint", 1, "tracepoint", "s", tp) < 0)
                g_error("Attach: %s", error.message);
}

static void bus_unload(sd_bus *bus, uint32_t id) {
        sd_bus_error error = SD_BUS_ERROR_NULL;

        if (sd_bus_call_method(bus, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH, BPFHUB_MANAGER_INTERFACE, "Unload", &error,
                               NULL, "u", id) < 0)
                g_error("Unload: %s", error.message);
}

static double time_calls(sd_bus *bus, const char *method, uint32_t id, unsigned reps) {
        double start = now_ms();

        for (unsigned i = 0; i < reps; i++) {
                sd_bus_error error = SD_BUS_ERROR_NULL;
                sd_bus_message *reply = NULL;
                int r = g_str_equal(method, "ListPrograms")
                        ? sd_bus_call_method(bus, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH, BPFHUB_MANAGER_INTERFACE,
                                             method, &error, &reply, "a{sv}", 0)
                        : sd_bus_call_method(bus, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH, BPFHUB_MANAGER_INTERFACE,
                                             method, &error, &reply, "u", id);
                if (r < 0)
                        g_error("%s: %s", method, error.message);
                sd_bus_message_unref(reply);
        }
        return (now_ms() - start) / reps;
}

static double time_command(const char *cmd, unsigned reps) {
        double start = now_ms();

        for (unsigned i = 0; i < reps; i++)
                if (fixture_run(NULL, "%s >/dev/null", cmd) != 0)
                        g_error("'%s' failed", cmd);
        return (now_ms() - start) / reps;
}

int main(int argc, char *argv[]) {
        unsigned n_attach = argc > 1 ? (unsigned) atoi(argv[1]) : 200;
        unsigned n_managed = argc > 2 ? (unsigned) atoi(argv[2]) : 1000;
        g_autofree char *scratch = NULL, *tracefs = NULL, *object = NULL, *cmd = NULL, *state_dir = NULL,
                        *daemon_args = NULL;
        g_autofree uint32_t *ids = NULL;
        BusFixture fx = {};
        double plain, daemon, list_d, list_b, get_d, get_b;
        sd_bus *bus;

        if (geteuid() != 0) {
                g_printerr("bench-programs needs root (it loads BPF programs).\n");
                return 77;
        }
        libbpf_set_print(quiet);
        scratch = fixture_scratch_new("bench");
        tracefs = g_build_filename(scratch, "tracing", NULL);
        object = fixture_build_path("bpf/feature-probes.bpf.o");
        /* Records on tmpfs, as in production (/run/bpfhub): an fsync there
         * costs nothing, on the disk under /tmp it would dominate. */
        state_dir = g_strdup_printf("/run/bpfhub-bench-%d", (int) getpid());
        daemon_args = g_strdup_printf("--idle-timeout=0 --state-dir=%s", state_dir);
        if (!fixture_mount("tracefs", tracefs) || !bus_fixture_start(&fx, scratch, daemon_args))
                g_error("cannot set up the bench fixture");
        bus = bus_fixture_connect(&fx);
        ids = g_new0(uint32_t, MAX(n_attach, n_managed));

        /* Warm up: activate the daemon and fault in libbpf once. */
        bus_unload(bus, bus_load(bus, object));
        (void) plain_libbpf(object, tracefs, 1);

        plain = plain_libbpf(object, tracefs, n_attach);
        {
                double start = now_ms();
                for (unsigned i = 0; i < n_attach; i++) {
                        ids[i] = bus_load(bus, object);
                        bus_attach(bus, ids[i], i);
                }
                daemon = now_ms() - start;
        }
        for (unsigned i = 0; i < n_attach; i++)
                bus_unload(bus, ids[i]);

        printf("load+attach of %u tracepoint programs\n", n_attach);
        printf("  plain libbpf in-process : %8.1f ms  (%.2f ms each)\n", plain, plain / n_attach);
        printf("  through bpfhubd (D-Bus) : %8.1f ms  (%.2f ms each)\n", daemon, daemon / n_attach);
        printf("  ratio bpfhubd/plain     : %8.2f\n\n", daemon / plain);

        for (unsigned i = 0; i < n_managed; i++)
                ids[i] = bus_load(bus, object);
        list_d = time_calls(bus, "ListPrograms", 0, 20);
        list_b = time_command("bpftool prog show --json", 20);
        get_d = time_calls(bus, "GetProgram", ids[n_managed / 2], 200);
        cmd = g_strdup_printf("bpftool prog show id %u --json", ids[n_managed / 2]);
        get_b = time_command(cmd, 50);

        printf("with %u managed programs\n", n_managed);
        printf("  ListPrograms            : %8.2f ms    bpftool prog show --json       : %8.2f ms    ratio %.2f\n",
               list_d, list_b, list_d / list_b);
        printf("  GetProgram              : %8.3f ms    bpftool prog show id N --json  : %8.3f ms    ratio %.2f\n",
               get_d, get_b, get_d / get_b);

        for (unsigned i = 0; i < n_managed; i++)
                bus_unload(bus, ids[i]);
        sd_bus_flush_close_unref(bus);
        bus_fixture_stop(&fx);
        fixture_umount(tracefs);
        fixture_scratch_free(g_steal_pointer(&scratch));
        (void) fixture_run(NULL, "rm -rf %s", state_dir);
        return 0;
}
