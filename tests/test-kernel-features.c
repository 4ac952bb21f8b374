/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Does bpfhubd's KernelFeatures tell the truth? For each program type and
 * attach kind the test loads and attaches a real program from
 * bpf/feature-probes.bpf.o in this kernel, makes it run, and compares what
 * happened with what the daemon reports. Nothing here is hard-coded per
 * machine: the same test holds on a kernel with kprobes or fentry. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "feature-probes.h"
#include "fixture.h"

#ifndef BPF_TCX_INGRESS
#define BPF_TCX_INGRESS 46
#endif


typedef struct Probe {
        char *scratch;
        char *tracefs;
        char *object_path;
        NetnsFixture net;
} Probe;

/* The uprobe target: a real function in this binary. */
__attribute__((noinline, used, visibility("default"))) int bpfhub_uprobe_target(int x);
__attribute__((noinline, used, visibility("default"))) int bpfhub_uprobe_target(int x) {
        __asm__ volatile("" ::: "memory");
        return x + 1;
}

static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list ap) {
        return level == LIBBPF_WARN && g_test_verbose() ? vfprintf(stderr, fmt, ap) : 0;
}

/* Opens the object with only "name" enabled. */
static struct bpf_object *open_only(Probe *p, const char *name, struct bpf_program **ret) {
        struct bpf_object *obj = bpf_object__open_file(p->object_path, NULL);
        struct bpf_program *prog;

        g_assert_nonnull(obj);
        bpf_object__for_each_program(prog, obj) {
                bool mine = g_str_equal(bpf_program__name(prog), name);
                bpf_program__set_autoload(prog, mine);
                if (mine)
                        *ret = prog;
        }
        g_assert_nonnull(*ret);
        return obj;
}

static uint64_t hits(struct bpf_object *obj, uint32_t idx) {
        struct bpf_map *m = bpf_object__find_map_by_name(obj, "hits");
        uint64_t v = 0;

        g_assert_nonnull(m);
        g_assert_cmpint(bpf_map__lookup_elem(m, &idx, sizeof idx, &v, sizeof v, 0), ==, 0);
        return v;
}

static void ping_peer(Probe *p) {
        (void) fixture_run(NULL, "ping -c 2 -i 0.2 -W 1 %s >/dev/null 2>&1", p->net.peer_addr);
}

/* Each check returns whether the feature really works here and says why. */
typedef bool (*check_fn)(Probe *p, GString *why);

static bool check_xdp(Probe *p, GString *why) {
        struct bpf_program *prog = NULL;
        struct bpf_object *obj = open_only(p, "probe_xdp", &prog);
        struct bpf_link *link;
        bool ok = false;

        if (bpf_object__load(obj) < 0) {
                g_string_printf(why, "load: %s", g_strerror(errno));
                goto out;
        }
        link = bpf_program__attach_xdp(prog, p->net.host_ifindex);
        if (!link) {
                g_string_printf(why, "attach: %s", g_strerror(errno));
                goto out;
        }
        ping_peer(p);
        ok = hits(obj, HIT_XDP) > 0;
        g_string_printf(why, "ran %" G_GUINT64_FORMAT " times on %s", hits(obj, HIT_XDP), p->net.host_if);
        bpf_link__destroy(link);
out:
        bpf_object__close(obj);
        return ok;
}

static bool check_tc(Probe *p, GString *why) {
        struct bpf_program *prog = NULL;
        struct bpf_object *obj = open_only(p, "probe_tc", &prog);
        LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = p->net.host_ifindex, .attach_point = BPF_TC_INGRESS);
        LIBBPF_OPTS(bpf_tc_opts, opts, .handle = 1, .priority = 1);
        bool ok = false;
        int r;

        if (bpf_object__load(obj) < 0) {
                g_string_printf(why, "load: %s", g_strerror(errno));
                goto out;
        }
        r = bpf_tc_hook_create(&hook);
        if (r < 0 && r != -EEXIST) {
                g_string_printf(why, "clsact: %s", g_strerror(-r));
                goto out;
        }
        opts.prog_fd = bpf_program__fd(prog);
        r = bpf_tc_attach(&hook, &opts);
        if (r < 0)
                g_string_printf(why, "attach: %s", g_strerror(-r));
        else {
                ping_peer(p);
                ok = hits(obj, HIT_TC) > 0;
                g_string_printf(why, "ran %" G_GUINT64_FORMAT " times", hits(obj, HIT_TC));
        }
        hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
        (void) bpf_tc_hook_destroy(&hook);
out:
        bpf_object__close(obj);
        return ok;
}

static bool check_tcx(Probe *p, GString *why) {
        struct bpf_program *prog = NULL;
        struct bpf_object *obj = open_only(p, "probe_tc", &prog);
        bool ok = false;
        int link_fd;

        if (bpf_object__load(obj) < 0) {
                g_string_printf(why, "load: %s", g_strerror(errno));
                goto out;
        }
        link_fd = bpf_link_create(bpf_program__fd(prog), p->net.host_ifindex,
                                  (enum bpf_attach_type) BPF_TCX_INGRESS, NULL);
        if (link_fd < 0) {
                g_string_printf(why, "BPF_LINK_CREATE(TCX_INGRESS): %s", g_strerror(errno));
                goto out;
        }
        ping_peer(p);
        ok = hits(obj, HIT_TC) > 0;
        g_string_printf(why, "ran %" G_GUINT64_FORMAT " times", hits(obj, HIT_TC));
        (void) close(link_fd);
out:
        bpf_object__close(obj);
        return ok;
}

static bool check_tracepoint(Probe *p, GString *why) {
        struct bpf_program *prog = NULL;
        struct bpf_object *obj = open_only(p, "probe_tracepoint", &prog);
        g_autofree char *id_path = g_build_filename(p->tracefs, "events/syscalls/sys_enter_getppid/id", NULL);
        g_autofree char *id_text = NULL;
        struct perf_event_attr attr = { .type = PERF_TYPE_TRACEPOINT, .size = sizeof attr, .sample_period = 1, .wakeup_events = 1 };
        struct bpf_link *link;
        bool ok = false;
        int pfd;

        if (bpf_object__load(obj) < 0) {
                g_string_printf(why, "load: %s", g_strerror(errno));
                goto out;
        }
        if (!g_file_get_contents(id_path, &id_text, NULL, NULL)) {
                g_string_printf(why, "no %s", id_path);
                goto out;
        }
        attr.config = g_ascii_strtoull(id_text, NULL, 10);
        pfd = (int) syscall(SYS_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
        if (pfd < 0) {
                g_string_printf(why, "perf_event_open: %s", g_strerror(errno));
                goto out;
        }
        link = bpf_program__attach_perf_event(prog, pfd);
        if (!link) {
                g_string_printf(why, "attach: %s", g_strerror(errno));
                (void) close(pfd);
                goto out;
        }
        for (int i = 0; i < 3; i++)
                (void) syscall(SYS_getppid);
        ok = hits(obj, HIT_TRACEPOINT) >= 3;
        g_string_printf(why, "ran %" G_GUINT64_FORMAT " times", hits(obj, HIT_TRACEPOINT));
        bpf_link__destroy(link);
out:
        bpf_object__close(obj);
        return ok;
}

static bool check_uprobe(Probe *p, GString *why) {
        struct bpf_program *prog = NULL;
        struct bpf_object *obj = open_only(p, "probe_uprobe", &prog);
        g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
        LIBBPF_OPTS(bpf_uprobe_opts, opts, .func_name = "bpfhub_uprobe_target");
        struct bpf_link *link;
        bool ok = false;

        if (bpf_object__load(obj) < 0) {
                g_string_printf(why, "load: %s", g_strerror(errno));
                goto out;
        }
        link = bpf_program__attach_uprobe_opts(prog, getpid(), self, 0, &opts);
        if (!link) {
                g_string_printf(why, "attach: %s", g_strerror(errno));
                goto out;
        }
        for (int i = 0; i < 3; i++)
                g_assert_cmpint(bpfhub_uprobe_target(i), ==, i + 1);
        ok = hits(obj, HIT_UPROBE) == 3;
        g_string_printf(why, "ran %" G_GUINT64_FORMAT " times", hits(obj, HIT_UPROBE));
        bpf_link__destroy(link);
out:
        bpf_object__close(obj);
        return ok;
}

/* Loads "name" and attaches it the way its section says, then unlinks a
 * file (kprobe/fentry on do_unlinkat) and opens one (lsm/file_open). */
static bool check_auto_attach(Probe *p, const char *name, uint32_t idx, GString *why) {
        struct bpf_program *prog = NULL;
        struct bpf_object *obj = open_only(p, name, &prog);
        g_autofree char *victim = g_build_filename(p->scratch, "victim", NULL);
        struct bpf_link *link;
        bool ok = false;
        int fd;

        if (bpf_object__load(obj) < 0) {
                g_string_printf(why, "load refused: %s", g_strerror(errno));
                goto out;
        }
        link = bpf_program__attach(prog);
        if (!link) {
                g_string_printf(why, "loads, but attach refused: %s", g_strerror(errno));
                goto out;
        }
        fd = open(victim, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
        if (fd >= 0)
                (void) close(fd);
        (void) unlink(victim);
        ok = hits(obj, idx) > 0;
        g_string_printf(why, "ran %" G_GUINT64_FORMAT " times", hits(obj, idx));
        bpf_link__destroy(link);
out:
        bpf_object__close(obj);
        return ok;
}

static bool check_kprobe(Probe *p, GString *why) {
        return check_auto_attach(p, "probe_kprobe", HIT_KPROBE, why);
}

static bool check_fentry(Probe *p, GString *why) {
        return check_auto_attach(p, "probe_fentry", HIT_FENTRY, why);
}

static bool check_lsm(Probe *p, GString *why) {
        return check_auto_attach(p, "probe_lsm", HIT_LSM, why);
}

static bool check_freplace(Probe *p, GString *why) {
        struct bpf_program *target = NULL, *ext = NULL;
        struct bpf_object *target_obj = open_only(p, "probe_xdp", &target);
        struct bpf_object *ext_obj = open_only(p, "probe_freplace", &ext);
        bool ok = false;

        if (bpf_object__load(target_obj) < 0) {
                g_string_printf(why, "target load: %s", g_strerror(errno));
                goto out;
        }
        g_assert_cmpint(bpf_program__set_attach_target(ext, bpf_program__fd(target), "probe_xdp"), ==, 0);
        if (bpf_object__load(ext_obj) < 0) {
                g_string_printf(why, "load refused: %s", g_strerror(errno));
                goto out;
        }
        ok = true;
        g_string_printf(why, "an extension of probe_xdp loads");
out:
        bpf_object__close(ext_obj);
        bpf_object__close(target_obj);
        return ok;
}

/* Runs a child in a fresh cgroup that creates a socket and sends a packet. */
static bool check_cgroup(Probe *p, const char *name, uint32_t idx, enum bpf_attach_type type, GString *why) {
        g_autofree char *cg = g_strdup_printf("%s/bpfhub-test-%d-%s", FIXTURE_CGROUP_ROOT, (int) getpid(), name);
        struct bpf_program *prog = NULL;
        struct bpf_object *obj = open_only(p, name, &prog);
        struct bpf_link *link;
        bool ok = false;
        int cg_fd = -1, status;
        pid_t child;

        if (bpf_object__load(obj) < 0) {
                g_string_printf(why, "load: %s", g_strerror(errno));
                goto out;
        }
        if (mkdir(cg, 0755) < 0) {
                g_string_printf(why, "mkdir %s: %s", cg, g_strerror(errno));
                goto out;
        }
        cg_fd = open(cg, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        g_assert_cmpint(cg_fd, >=, 0);
        link = bpf_program__attach_cgroup(prog, cg_fd);
        if (!link) {
                g_string_printf(why, "attach: %s", g_strerror(errno));
                goto out;
        }

        child = fork();
        g_assert_cmpint(child, >=, 0);
        if (child == 0) {
                g_autofree char *procs = g_build_filename(cg, "cgroup.procs", NULL);
                struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9),
                                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
                int s, fd;

                /* cgroupfs needs a plain write, not a temp file + rename. */
                fd = open(procs, O_WRONLY | O_CLOEXEC);
                if (fd < 0 || write(fd, "0", 1) != 1)
                        _exit(2);
                (void) close(fd);
                s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
                if (s < 0)
                        _exit(3);
                (void) sendto(s, "x", 1, 0, (struct sockaddr *) &to, sizeof to);
                _exit(0);
        }
        g_assert_cmpint(waitpid(child, &status, 0), ==, child);
        g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        ok = hits(obj, idx) > 0;
        g_string_printf(why, "ran %" G_GUINT64_FORMAT " times", hits(obj, idx));
        bpf_link__destroy(link);
        (void) type;
out:
        if (cg_fd >= 0)
                (void) close(cg_fd);
        (void) rmdir(cg);
        bpf_object__close(obj);
        return ok;
}

static bool check_cgroup_skb(Probe *p, GString *why) {
        return check_cgroup(p, "probe_cgroup_skb", HIT_CGROUP_SKB, BPF_CGROUP_INET_EGRESS, why);
}

static bool check_cgroup_sock(Probe *p, GString *why) {
        return check_cgroup(p, "probe_cgroup_sock", HIT_CGROUP_SOCK, BPF_CGROUP_INET_SOCK_CREATE, why);
}

static const struct {
        const char *feature;
        check_fn check;
} checks[] = {
        { "xdp", check_xdp },
        { "sched_cls", check_tc },
        { "tcx", check_tcx },
        { "tracepoint", check_tracepoint },
        { "uprobe", check_uprobe },
        { "kprobe", check_kprobe },
        { "tracing", check_fentry },
        { "ext", check_freplace },
        { "lsm", check_lsm },
        { "cgroup_skb", check_cgroup_skb },
        { "cgroup_sock", check_cgroup_sock },
};

static GHashTable *daemon_features(BusFixture *bus) {
        GHashTable *t = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        sd_bus *client = bus_fixture_connect(bus);
        sd_bus_message *reply = NULL;
        const char *name, *kind, *detail;
        int supported, r;

        r = sd_bus_get_property(client, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH, BPFHUB_MANAGER_INTERFACE,
                                "KernelFeatures", NULL, &reply, "a(ssbs)");
        g_assert_cmpint(r, >=, 0);
        g_assert_cmpint(sd_bus_message_enter_container(reply, 'a', "(ssbs)"), >=, 0);
        while (sd_bus_message_read(reply, "(ssbs)", &name, &kind, &supported, &detail) > 0)
                g_hash_table_insert(t, g_strdup(name), GINT_TO_POINTER(supported ? 1 : 2));
        sd_bus_message_unref(reply);
        sd_bus_flush_close_unref(client);
        return t;
}

static void test_features_match_kernel(void) {
        g_autoptr(GHashTable) reported = NULL;
        BusFixture bus = {};
        Probe p = {};
        unsigned mismatches = 0;

        if (!fixture_require_root() || !fixture_require_program("ping"))
                return;

        p.scratch = fixture_scratch_new("kfeat");
        p.tracefs = g_build_filename(p.scratch, "tracing", NULL);
        p.object_path = fixture_build_path("bpf/feature-probes.bpf.o");
        g_assert_true(g_file_test(p.object_path, G_FILE_TEST_EXISTS));
        if (!fixture_mount("tracefs", p.tracefs) || !netns_fixture_start(&p.net, "kfeat"))
                goto out;
        if (!bus_fixture_start(&bus, p.scratch, NULL))
                goto out;

        reported = daemon_features(&bus);
        libbpf_set_print(quiet_print);

        for (size_t i = 0; i < G_N_ELEMENTS(checks); i++) {
                g_autoptr(GString) why = g_string_new(NULL);
                gpointer v = g_hash_table_lookup(reported, checks[i].feature);
                bool works = checks[i].check(&p, why);
                bool claimed = GPOINTER_TO_INT(v) == 1;

                g_assert_nonnull(v);
                g_printerr("# %-12s kernel: %-3s bpfhubd: %-3s (%s)\n", checks[i].feature, works ? "yes" : "no",
                           claimed ? "yes" : "no", why->str);
                if (works != claimed) {
                        g_printerr("# MISMATCH for %s\n", checks[i].feature);
                        mismatches++;
                }
        }
        g_assert_cmpuint(mismatches, ==, 0);

out:
        bus_fixture_stop(&bus);
        netns_fixture_stop(&p.net);
        fixture_umount(p.tracefs);
        g_free(p.tracefs);
        g_free(p.object_path);
        fixture_scratch_free(p.scratch);
}

/* The in-process probe (what bpfhubd runs at start) gives the same answer
 * as the daemon on the bus: no state leaks between the two. */
static void test_probe_stable(void) {
        g_autoptr(GHashTable) first = NULL, second = NULL;
        g_autofree char *scratch = NULL;
        BusFixture bus = {};
        GHashTableIter it;
        gpointer k, v;

        if (!fixture_require_root())
                return;
        scratch = fixture_scratch_new("kfeat2");
        if (bus_fixture_start(&bus, scratch, "--idle-timeout=100ms")) {
                sd_bus *client = bus_fixture_connect(&bus);
                first = daemon_features(&bus);
                g_assert_true(bus_fixture_wait_name_gone(client, 5000));
                second = daemon_features(&bus);
                sd_bus_flush_close_unref(client);
                g_assert_cmpuint(g_hash_table_size(first), ==, g_hash_table_size(second));
                g_hash_table_iter_init(&it, first);
                while (g_hash_table_iter_next(&it, &k, &v))
                        g_assert_cmpint(GPOINTER_TO_INT(g_hash_table_lookup(second, k)), ==, GPOINTER_TO_INT(v));
        }
        bus_fixture_stop(&bus);
        fixture_scratch_free(g_steal_pointer(&scratch));
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/kernel/features-match-kernel", test_features_match_kernel);
        g_test_add_func("/kernel/probe-stable-across-restarts", test_probe_stable);
        return g_test_run();
}
