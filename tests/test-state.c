/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Programs and links with their records, against the real kernel: every
 * attach kind this kernel supports runs for real; reopening the state
 * reconciles records with bpffs after simulated crashes. */
#include <bpf/bpf.h>
#include <dlfcn.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "feature-probes.h"
#include "fileio.h"
#include "fixture.h"
#include "log.h"
#include "state.h"

__attribute__((noinline, used, visibility("default"))) int bpfhub_state_uprobe_target(int x);
__attribute__((noinline, used, visibility("default"))) int bpfhub_state_uprobe_target(int x) {
        __asm__ volatile("" ::: "memory");
        return x * 2;
}

typedef struct Env {
        char *scratch, *bpffs, *state_dir, *cgroup;
        KernelFeatures kf;
        NetnsFixture net;
        State *state;
} Env;

static bool env_start(Env *e) {
        ReconcileReport rep;

        *e = (Env) {};
        if (!fixture_require_root() || !fixture_require_program("ping"))
                return false;
        e->scratch = fixture_scratch_new("state");
        e->bpffs = g_build_filename(e->scratch, "bpffs", NULL);
        e->state_dir = g_build_filename(e->scratch, "run", NULL);
        if (!fixture_mount("bpf", e->bpffs) || !netns_fixture_start(&e->net, "state"))
                return false;
        g_assert_cmpint(kernel_features_probe(&e->kf), ==, 0);
        g_assert_cmpint(state_open(e->state_dir, e->bpffs, &e->state, &rep), ==, 0);
        return true;
}

static void env_stop(Env *e) {
        state_free(e->state);
        kernel_features_done(&e->kf);
        netns_fixture_stop(&e->net);
        if (e->cgroup)
                (void) rmdir(e->cgroup);
        fixture_umount(e->bpffs);
        g_free(e->bpffs);
        g_free(e->state_dir);
        g_free(e->cgroup);
        fixture_scratch_free(e->scratch);
}

static Program *load_one(Env *e, const char *obj, const char *name, ProgramType type) {
        g_autofree char *file = g_strdup_printf("bpf/%s.bpf.o", obj);
        LoadRequest req = { .path = fixture_build_path(file), .n_programs = 1 };
        Program **progs = NULL, *p;
        size_t n = 0;
        ErrorInfo err;

        req.programs = g_new0(ProgramSpec, 1);
        req.programs[0] = (ProgramSpec) { .name = strdup(name), .type = type };
        if (state_load(e->state, &e->kf, &req, &progs, &n, &err) < 0)
                g_error("load %s: %s", name, err.message);
        g_free(req.path);
        req.path = NULL;
        load_request_done(&req);
        p = progs[0];
        free(progs);
        return p;
}

static Link *new_link(uint32_t program_id, LinkKind kind) {
        Link *l = calloc(1, sizeof(Link));
        l->program_id = program_id;
        l->kind = kind;
        return l;
}

static Link *attach_ok(Env *e, Link *l) {
        Link *out = NULL;
        ErrorInfo err;

        if (state_attach(e->state, &e->kf, l, &out, &err) < 0)
                g_error("attach %s: %s", link_kind_to_string(l->kind), err.message);
        return out;
}

static uint64_t read_map(Env *e, uint32_t owner, const char *map, uint32_t key) {
        return fixture_read_pinned_u64(e->bpffs, owner, map, key);
}

static void ping(Env *e) {
        (void) fixture_run(NULL, "ping -c 2 -i 0.2 -W 1 %s >&2", e->net.peer_addr);
}

static void test_attach_kinds(void) {
        Program *xdp, *tc, *tcx, *tp, *up, *cg;
        Link *l, *xdp_link;
        ErrorInfo err;
        uint64_t before;
        Env e;

        if (!env_start(&e))
                return env_stop(&e);

        /* XDP on the veth: the run counter in "seen" grows with traffic. */
        xdp = load_one(&e, "test-globals", "globals_xdp", PROGRAM_XDP);
        l = new_link(xdp->id, LINK_XDP);
        l->iface = strdup(e.net.host_if);
        l->priority = 50;
        xdp_link = attach_ok(&e, l);
        g_assert_nonnull(xdp_link->mode_used);
        /* libxdp attached it: the program itself here, a freplace copy under a dispatcher. */
        g_assert_cmpuint(xdp_link->attached_program_id, >, 0);
        ping(&e);
        g_assert_cmpuint(read_map(&e, xdp->id, "seen", 1), >, 0);

        /* A second XDP program on the same interface: busy, and why. */
        {
                Program *other = load_one(&e, "feature-probes", "probe_xdp", PROGRAM_XDP);
                l = new_link(other->id, LINK_XDP);
                l->iface = strdup(e.net.host_if);
                l->priority = 10;
                g_assert_cmpint(state_attach(e.state, &e.kf, l, &l, &err), ==, -EBUSY);
                g_assert_cmpstr(err.bus_error, ==, "org.bpfhub.Error.InterfaceBusy");
                g_assert_nonnull(strstr(err.message, e.net.host_if));
                /* This kernel has no freplace: libxdp's single-program mode, and the message says so. */
                g_assert_nonnull(strstr(err.message, "no freplace"));
                g_assert_cmpint(state_unload(e.state, other->id), ==, 0);
        }

        /* Proceed-on: XDP's actions only; tc only what the kernel does. Nothing attaches. */
        {
                const struct { LinkKind kind; const char *action; const char *says; } bad[] = {
                        { LINK_XDP, "ok", "Unknown XDP proceed-on action 'ok'" },
                        { LINK_TC, "pipe", "TC_ACT_UNSPEC" },
                        { LINK_TCX, "pass", "TC_ACT_UNSPEC" },
                };
                for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                        Program *p = bad[i].kind == LINK_XDP ? xdp : load_one(&e, "test-globals", "globals_tc", PROGRAM_TC);
                        size_t links_before = e.state->n_links;

                        l = new_link(p->id, bad[i].kind);
                        l->iface = strdup(e.net.host_if);
                        l->direction = bad[i].kind == LINK_XDP ? NULL : strdup("ingress");
                        l->priority = 60;
                        l->proceed_on = g_new0(char *, 2);
                        l->proceed_on[0] = strdup(bad[i].action);
                        g_assert_cmpint(state_attach(e.state, &e.kf, l, &l, &err), ==, -EINVAL);
                        g_assert_nonnull(strstr(err.message, bad[i].says));
                        g_assert_cmpuint(e.state->n_links, ==, links_before);
                        if (p != xdp)
                                g_assert_cmpint(state_unload(e.state, p->id), ==, 0);
                }
        }

        /* Legacy tc filter and TCX, ingress. */
        tc = load_one(&e, "feature-probes", "probe_tc", PROGRAM_TC);
        l = new_link(tc->id, LINK_TC);
        l->iface = strdup(e.net.host_if);
        l->direction = strdup("ingress");
        l->priority = 100;
        l = attach_ok(&e, l);
        g_assert_cmpuint(l->tc_handle, >, 0);
        tcx = load_one(&e, "test-globals", "globals_tc", PROGRAM_TCX);
        l = new_link(tcx->id, LINK_TCX);
        l->iface = strdup(e.net.host_if);
        l->direction = strdup("ingress");
        l->priority = 100;
        attach_ok(&e, l);
        before = read_map(&e, tcx->id, "seen", 1);
        ping(&e);
        g_assert_cmpuint(read_map(&e, tc->id, "hits", HIT_TC), >, 0);
        g_assert_cmpuint(read_map(&e, tcx->id, "seen", 1), >, before);

        /* Tracepoint. */
        tp = load_one(&e, "feature-probes", "probe_tracepoint", PROGRAM_TRACEPOINT);
        l = new_link(tp->id, LINK_TRACEPOINT);
        l->tracepoint = strdup("syscalls/sys_enter_getppid");
        attach_ok(&e, l);
        for (int i = 0; i < 3; i++)
                (void) syscall(SYS_getppid);
        g_assert_cmpuint(read_map(&e, tp->id, "hits", HIT_TRACEPOINT), >=, 3);

        /* uprobe on a function of this very binary, this pid only. */
        up = load_one(&e, "feature-probes", "probe_uprobe", PROGRAM_UPROBE);
        l = new_link(up->id, LINK_UPROBE);
        l->target = g_file_read_link("/proc/self/exe", NULL);
        l->function = strdup("bpfhub_state_uprobe_target");
        l->pid = getpid();
        attach_ok(&e, l);
        for (int i = 0; i < 4; i++)
                g_assert_cmpint(bpfhub_state_uprobe_target(i), ==, 2 * i);
        g_assert_cmpuint(read_map(&e, up->id, "hits", HIT_UPROBE), ==, 4);

        /* cgroup sock_create for a child in a test cgroup. */
        e.cgroup = g_strdup_printf("%s/bpfhub-test-%d-state", FIXTURE_CGROUP_ROOT, (int) getpid());
        g_assert_cmpint(mkdir(e.cgroup, 0755), ==, 0);
        cg = load_one(&e, "feature-probes", "probe_cgroup_sock", PROGRAM_CGROUP);
        l = new_link(cg->id, LINK_CGROUP);
        l->cgroup = strdup(e.cgroup);
        l->attach_type = strdup("sock_create");
        attach_ok(&e, l);
        {
                pid_t child = fork();
                int status;
                if (child == 0) {
                        g_autofree char *procs = g_build_filename(e.cgroup, "cgroup.procs", NULL);
                        int fd = open(procs, O_WRONLY | O_CLOEXEC);
                        if (fd < 0 || write(fd, "0", 1) != 1)
                                _exit(2);
                        _exit(socket(AF_INET, SOCK_DGRAM, 0) >= 0 ? 0 : 3);
                }
                g_assert_cmpint(waitpid(child, &status, 0), ==, child);
                g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        }
        g_assert_cmpuint(read_map(&e, cg->id, "hits", HIT_CGROUP_SOCK), >=, 1);

        /* Kinds this kernel refuses say which feature is missing. */
        if (!kernel_features_find(&e.kf, "kprobe")->supported) {
                Program *other = load_one(&e, "feature-probes", "probe_tracepoint", PROGRAM_TRACEPOINT);
                l = new_link(other->id, LINK_KPROBE);
                l->function = strdup("do_unlinkat");
                /* A tracepoint program cannot be a kprobe: checked first. */
                g_assert_cmpint(state_attach(e.state, &e.kf, l, &l, &err), ==, -EINVAL);
                g_assert_nonnull(strstr(err.message, "cannot be attached as kprobe"));
                g_assert_cmpint(state_unload(e.state, other->id), ==, 0);
        }

        /* Unload detaches everything and frees the maps. */
        g_assert_cmpuint(e.state->n_links, ==, 6);
        {
                g_autofree char *links = g_build_filename(e.bpffs, "links", NULL);
                g_autofree char *maps = g_build_filename(e.bpffs, "maps", NULL);
                g_autofree char *progs = g_build_filename(e.bpffs, "programs", NULL);
                g_autofree char *records = g_build_filename(e.state_dir, "programs", NULL);
                while (e.state->n_programs > 0)
                        g_assert_cmpint(state_unload(e.state, e.state->programs[0]->id), ==, 0);
                g_assert_cmpuint(e.state->n_links, ==, 0);
                g_assert_cmpint(fixture_run(NULL, "test -z \"$(ls -A %s %s %s %s 2>/dev/null | grep -v :)\"", links, maps,
                                            progs, records), ==, 0);
                g_assert_cmpint(fixture_run(NULL, "! tc filter show dev %s ingress | grep -q bpf", e.net.host_if), ==, 0);
                g_assert_cmpint(fixture_run(NULL, "! ip link show dev %s | grep -q xdp", e.net.host_if), ==, 0);
        }
        env_stop(&e);
}

static void write_json_file(const char *dir, uint32_t id, json_object *j) {
        char name[32];
        const char *text = json_object_to_json_string(j);

        g_assert_cmpint(mkdir_parents(dir, 0755), ==, 0);
        g_snprintf(name, sizeof name, "%u.json", id);
        g_assert_cmpint(write_file_atomic(dir, name, text, strlen(text)), ==, 0);
}

/* Crashes at every step leave states that the next start straightens out. */
static void test_reconcile(void) {
        g_autofree char *link_records = NULL, *prog_records = NULL;
        Program *kept, *orphan_prog = NULL, **orphans = NULL;
        Link *kept_link, *half, *half_xdp;
        ReconcileReport rep;
        ErrorInfo aerr;
        ErrorInfo lerr;
        json_object *j;
        size_t n;
        uint64_t before;
        Env e;

        if (!env_start(&e))
                return env_stop(&e);
        link_records = g_build_filename(e.state_dir, "links", NULL);
        prog_records = g_build_filename(e.state_dir, "programs", NULL);

        /* A normal program with a link: kept. */
        kept = load_one(&e, "test-globals", "globals_xdp", PROGRAM_XDP);
        kept_link = new_link(kept->id, LINK_XDP);
        kept_link->iface = strdup(e.net.host_if);
        kept_link->priority = 1;
        kept_link = attach_ok(&e, kept_link);

        /* Killed between pinning and writing the record: an orphan pin. */
        {
                LoadRequest req = { .path = fixture_build_path("bpf/feature-probes.bpf.o"), .n_programs = 1 };
                req.programs = g_new0(ProgramSpec, 1);
                req.programs[0] = (ProgramSpec) { .name = strdup("probe_tracepoint"), .type = PROGRAM_TRACEPOINT };
                g_assert_cmpint(program_load(e.bpffs, &e.kf, &req, &orphans, &n, &lerr), ==, 0);
                orphan_prog = orphans[0];
                free(orphans);
                load_request_done(&req);
        }

        /* Killed after attaching but before completing the record. */
        {
                Program *p = load_one(&e, "test-globals", "globals_tc", PROGRAM_TCX);
                half = new_link(p->id, LINK_TCX);
                half->iface = strdup(e.net.host_if);
                half->direction = strdup("egress");
                half->priority = 5;
                half->id = 500;
                g_assert_cmpint(link_attach(e.bpffs, half, NULL, NULL, &aerr), ==, 0);
                half->complete = false;
                g_assert_cmpint(link_to_json(half, &j), ==, 0);
                write_json_file(link_records, half->id, j);
                json_object_put(j);
        }

        /* The same for XDP, which libxdp attaches without a pin: the record
         * does not know what runs on the hook; the next start finds it. */
        {
                Program *p = load_one(&e, "test-globals", "globals_xdp", PROGRAM_XDP);
                half_xdp = new_link(p->id, LINK_XDP);
                half_xdp->iface = strdup(e.net.peer_if);
                half_xdp->netns = g_strdup_printf("/run/netns/%s", e.net.netns);
                half_xdp->priority = 5;
                half_xdp->id = 550;
                g_assert_cmpint(link_attach(e.bpffs, half_xdp, NULL, NULL, &aerr), ==, 0);
                g_assert_cmpuint(half_xdp->attached_program_id, ==, p->id);
                half_xdp->complete = false;
                half_xdp->attached_program_id = 0;
                half_xdp->ifindex = 0;
                g_assert_cmpint(link_to_json(half_xdp, &j), ==, 0);
                write_json_file(link_records, half_xdp->id, j);
                json_object_put(j);
        }

        /* Killed after the intent record, before the attach: no pin. */
        {
                Link *intent = new_link(kept->id, LINK_TCX);
                intent->iface = strdup(e.net.host_if);
                intent->direction = strdup("ingress");
                intent->priority = 7;
                intent->id = 600;
                g_assert_cmpint(link_to_json(intent, &j), ==, 0);
                write_json_file(link_records, intent->id, j);
                json_object_put(j);
                link_free(intent);
        }

        /* A program record whose program vanished (bpffs was remounted). */
        {
                Program fake = { .id = 4000000000u, .name = (char *) "ghost", .type = PROGRAM_XDP,
                                 .path = (char *) "/nonexistent.o", .group_id = 4000000000u,
                                 .map_owner_id = 4000000000u };
                g_assert_cmpint(program_to_json(&fake, &j), ==, 0);
                write_json_file(prog_records, fake.id, j);
                json_object_put(j);
        }

        /* Garbage and a temp file from an interrupted write. */
        g_autofree char *garbage = g_build_filename(prog_records, "77.json", NULL);
        g_autofree char *temp = g_build_filename(prog_records, ".#12.json.abc", NULL);
        g_assert_true(g_file_set_contents(garbage, "{not json", -1, NULL));
        g_assert_true(g_file_set_contents(temp, "{}", -1, NULL));

        /* "Restart". */
        uint32_t kept_id = kept->id, orphan_id = orphan_prog->id;
        state_free(e.state);
        g_assert_cmpint(state_open(e.state_dir, e.bpffs, &e.state, &rep), ==, 0);
        g_printerr("# kept %u/%u, dropped %u/%u, orphans %u/%u, completed %u, map dirs %u\n", rep.programs_kept,
                   rep.links_kept, rep.programs_dropped, rep.links_dropped, rep.orphan_programs_unpinned,
                   rep.orphan_links_detached, rep.incomplete_links_completed, rep.map_dirs_removed);
        g_assert_cmpuint(rep.programs_kept, ==, 3);
        g_assert_cmpuint(rep.programs_dropped, ==, 1);          /* the ghost */
        g_assert_cmpuint(rep.orphan_programs_unpinned, ==, 1);  /* the orphan pin */
        g_assert_cmpuint(rep.links_kept, ==, 3);                /* the XDP link and the half-done ones */
        g_assert_cmpuint(rep.incomplete_links_completed, ==, 2);
        g_assert_cmpuint(rep.links_dropped, ==, 1);             /* the intent without attach */
        g_assert_cmpuint(rep.map_dirs_removed, ==, 1);          /* the orphan's maps */
        g_assert_null(state_find_program(e.state, orphan_id));
        g_assert_nonnull(state_find_link(e.state, 500));
        g_assert_cmpuint(state_find_link(e.state, 550)->attached_program_id, ==, half_xdp->program_id);
        g_assert_true(state_find_link(e.state, 550)->complete);
        /* ... and detaching it really takes the program off the hook. */
        {
                g_autofree HookEntry *entries = NULL;
                size_t n_entries;
                g_assert_cmpint(state_detach(e.state, 550), ==, 0);
                g_assert_cmpint(link_hook_programs(half_xdp->iface, half_xdp->netns, &entries, &n_entries, &aerr), ==, 0);
                for (size_t i = 0; i < n_entries; i++)
                        g_assert_cmpstr(entries[i].hook, !=, "xdp");
        }
        g_assert_null(state_find_link(e.state, 600));
        g_assert_false(g_file_test(temp, G_FILE_TEST_EXISTS));
        g_assert_false(g_file_test(garbage, G_FILE_TEST_EXISTS));
        /* New link ids continue after the highest one seen. */
        g_assert_cmpuint(e.state->next_link_id, >, 600);

        /* What was kept still works. */
        before = read_map(&e, kept_id, "seen", 1);
        ping(&e);
        g_assert_cmpuint(read_map(&e, kept_id, "seen", 1), >, before);

        program_free(orphan_prog);
        link_free(half);
        link_free(half_xdp);
        env_stop(&e);
}

/* Skips (the kernel truly lacks it) when there is no TCX. */
static bool tcx_supported(Env *e) {
        if (kernel_features_find(&e->kf, "tcx")->supported)
                return true;
        fixture_skip_unsupported("this kernel has no TCX (Linux 6.6+)");
        return false;
}

static Link *attach_tcx(Env *e, uint32_t program_id, int priority) {
        Link *l = new_link(program_id, LINK_TCX);

        l->iface = strdup(e->net.host_if);
        l->direction = strdup("ingress");
        l->priority = priority;
        return attach_ok(e, l);
}

static void assert_tcx_order(Env *e, const uint32_t *expected, uint32_t n) {
        uint32_t ids[16], count = G_N_ELEMENTS(ids);

        g_assert_cmpint(tcx_query(e->net.host_ifindex, true, ids, &count, NULL), ==, 0);
        for (uint32_t i = 0; i < count; i++)
                g_printerr("# tcx[%u] = %u (expected %u)\n", i, ids[i], i < n ? expected[i] : 0);
        g_assert_cmpuint(count, ==, n);
        for (uint32_t i = 0; i < n; i++)
                g_assert_cmpuint(ids[i], ==, expected[i]);
}

/* TCX run order follows priorities, ties run in attach order, and a foreign
 * program already on the hook keeps its place. */
static void test_tcx_order(void) {
        struct bpf_object *foreign_obj;
        struct bpf_program *foreign;
        uint32_t f_id, a, b, c, d, x;
        struct bpf_prog_info info = {};
        uint32_t len = sizeof info;
        int foreign_link;
        Link *lc;
        Env e;

        if (!env_start(&e))
                return env_stop(&e);
        if (!tcx_supported(&e))
                return env_stop(&e);

        /* Somebody else's TCX program, attached before bpfhub came along. */
        {
                g_autofree char *path = fixture_build_path("bpf/feature-probes.bpf.o");
                foreign_obj = bpf_object__open_file(path, NULL);
                g_assert_nonnull(foreign_obj);
                bpf_object__for_each_program(foreign, foreign_obj)
                        bpf_program__set_autoload(foreign, g_str_equal(bpf_program__name(foreign), "probe_tc"));
                foreign = bpf_object__find_program_by_name(foreign_obj, "probe_tc");
                g_assert_cmpint(bpf_object__load(foreign_obj), ==, 0);
                foreign_link = bpf_link_create(bpf_program__fd(foreign), e.net.host_ifindex, 46 /* TCX_INGRESS */, NULL);
                g_assert_cmpint(foreign_link, >=, 0);
                g_assert_cmpint(bpf_obj_get_info_by_fd(bpf_program__fd(foreign), &info, &len), ==, 0);
                f_id = info.id;
        }

        a = load_one(&e, "test-globals", "globals_tc", PROGRAM_TCX)->id;
        b = load_one(&e, "test-globals", "globals_tc", PROGRAM_TCX)->id;
        c = load_one(&e, "test-globals", "globals_tc", PROGRAM_TCX)->id;
        d = load_one(&e, "test-globals", "globals_tc", PROGRAM_TCX)->id;
        x = load_one(&e, "test-globals", "globals_tc", PROGRAM_TCX)->id;

        attach_tcx(&e, a, 50);
        attach_tcx(&e, b, 10);
        lc = attach_tcx(&e, c, 10);
        attach_tcx(&e, d, 100);
        assert_tcx_order(&e, (uint32_t[]) { f_id, b, c, a, d }, 5);

        /* Detach the middle one; a later tie goes after the earlier equal. */
        g_assert_cmpint(state_detach(e.state, lc->id), ==, 0);
        assert_tcx_order(&e, (uint32_t[]) { f_id, b, a, d }, 4);
        attach_tcx(&e, x, 10);
        assert_tcx_order(&e, (uint32_t[]) { f_id, b, x, a, d }, 5);

        /* Unloading ours leaves the foreign program alone. */
        while (e.state->n_programs > 0)
                g_assert_cmpint(state_unload(e.state, e.state->programs[0]->id), ==, 0);
        assert_tcx_order(&e, (uint32_t[]) { f_id }, 1);

        close(foreign_link);
        bpf_object__close(foreign_obj);
        env_stop(&e);
}

static bool has_clsact(Env *e) {
        return fixture_run(NULL, "tc qdisc show dev %s | grep -q clsact", e->net.host_if) == 0;
}

static Link *attach_tc(Env *e, uint32_t program_id, int priority, const char *direction) {
        Link *l = new_link(program_id, LINK_TC);

        l->iface = strdup(e->net.host_if);
        l->direction = strdup(direction);
        l->priority = priority;
        return attach_ok(e, l);
}

static uint32_t load_chain(Env *e, uint32_t index, uint32_t map_owner) {
        g_autofree char *global = g_strdup_printf("chain_index=%02x000000", index);
        LoadRequest req = { .path = fixture_build_path("bpf/test-globals.bpf.o"), .n_programs = 1,
                            .map_owner_id = map_owner, .n_globals = 1 };
        Program **progs = NULL;
        ErrorInfo err;
        uint32_t id;
        size_t n;

        req.programs = g_new0(ProgramSpec, 1);
        req.programs[0] = (ProgramSpec) { .name = strdup("chain_tc"), .type = PROGRAM_TCX };
        req.globals = g_new0(GlobalValue, 1);
        g_assert_cmpint(global_value_parse(global, &req.globals[0]), ==, 0);
        if (state_load(e->state, &e->kf, &req, &progs, &n, &err) < 0)
                g_error("load chain_tc: %s", err.message);
        id = progs[0]->id;
        free(progs);
        load_request_done(&req);
        return id;
}

/* Run order seen by packets: three copies of one program, told apart by a
 * global, sharing one map, attached as TCX with priorities 30, 10, 20. */
static void test_tcx_mark_chain(void) {
        uint32_t first, second, third;
        uint64_t chain;
        Env e;

        if (!env_start(&e))
                return env_stop(&e);
        if (!tcx_supported(&e))
                return env_stop(&e);
        first = load_chain(&e, 1, 0);
        second = load_chain(&e, 2, first);
        third = load_chain(&e, 3, first);
        attach_tcx(&e, first, 30);
        attach_tcx(&e, second, 10);
        attach_tcx(&e, third, 20);
        ping(&e);
        chain = read_map(&e, first, "chain", 0);
        g_printerr("# mark chain after a packet: %" G_GUINT64_FORMAT "\n", chain);
        g_assert_cmpuint(chain, ==, 231);

        while (e.state->n_programs > 0)
                g_assert_cmpint(state_unload(e.state, e.state->programs[0]->id), ==, 0);
        env_stop(&e);
}

/* bpfhub removes a clsact qdisc it added once no filter is left on it, and
 * never while somebody else's filter is there. */
static void test_tc_clsact(void) {
        uint32_t a, b, c;
        Link *la, *lb, *lc;
        Env e;

        if (!env_start(&e))
                return env_stop(&e);
        g_assert_false(has_clsact(&e));

        a = load_one(&e, "test-globals", "globals_tc", PROGRAM_TC)->id;
        b = load_one(&e, "test-globals", "globals_tc", PROGRAM_TC)->id;
        la = attach_tc(&e, a, 10, "ingress");
        g_assert_true(la->tc_created_clsact);
        lb = attach_tc(&e, b, 20, "egress");
        g_assert_false(lb->tc_created_clsact);
        g_assert_true(has_clsact(&e));

        /* The creator goes first: the other bpfhub filter inherits the duty. */
        g_assert_cmpint(state_detach(e.state, la->id), ==, 0);
        g_assert_true(has_clsact(&e));
        g_assert_true(lb->tc_created_clsact);

        /* A filter of somebody else keeps the qdisc alive. */
        {
                g_autofree char *path = fixture_build_path("bpf/feature-probes.bpf.o");
                struct bpf_object *obj = bpf_object__open_file(path, NULL);
                struct bpf_program *p;
                LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = e.net.host_ifindex, .attach_point = BPF_TC_INGRESS);
                LIBBPF_OPTS(bpf_tc_opts, opts, .priority = 500);

                bpf_object__for_each_program(p, obj)
                        bpf_program__set_autoload(p, g_str_equal(bpf_program__name(p), "probe_tc"));
                g_assert_cmpint(bpf_object__load(obj), ==, 0);
                opts.prog_fd = bpf_program__fd(bpf_object__find_program_by_name(obj, "probe_tc"));
                g_assert_cmpint(bpf_tc_attach(&hook, &opts), ==, 0);

                g_assert_cmpint(state_detach(e.state, lb->id), ==, 0);
                g_assert_true(has_clsact(&e));
                opts.prog_fd = opts.prog_id = opts.flags = 0;
                g_assert_cmpint(bpf_tc_detach(&hook, &opts), ==, 0);
                bpf_object__close(obj);
        }

        /* Alone again: the last bpfhub filter takes the qdisc with it. */
        {
                LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = e.net.host_ifindex, .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
                (void) bpf_tc_hook_destroy(&hook);
        }
        c = load_one(&e, "test-globals", "globals_tc", PROGRAM_TC)->id;
        lc = attach_tc(&e, c, 30, "ingress");
        g_assert_true(lc->tc_created_clsact);
        g_assert_cmpint(state_unload(e.state, c), ==, 0);
        g_assert_false(has_clsact(&e));

        g_assert_cmpint(state_unload(e.state, a), ==, 0);
        g_assert_cmpint(state_unload(e.state, b), ==, 0);
        env_stop(&e);
}

/* A uprobe on malloc in libc for one child process, a cgroup_skb egress
 * counter, and XDP attached inside a network namespace. */
static void test_more_kinds(void) {
        g_autofree char *netns_path = NULL;
        uint32_t up, cg, xdp;
        int go[2], status;
        pid_t child;
        Link *l;
        Env e;

        if (!env_start(&e))
                return env_stop(&e);

        /* uprobe: the child waits until the probe is there, then mallocs. */
        g_assert_cmpint(pipe(go), ==, 0);
        child = fork();
        g_assert_cmpint(child, >=, 0);
        if (child == 0) {
                /* libc's own malloc: under AddressSanitizer plain malloc() is
                 * the sanitizer's, which a uprobe on libc never sees. */
                void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
                void *(*libc_malloc)(size_t) = libc ? (void *(*)(size_t)) dlsym(libc, "malloc") : NULL;
                void (*libc_free)(void *) = libc ? (void (*)(void *)) dlsym(libc, "free") : NULL;
                char c;

                close(go[1]);
                if (!libc_malloc || !libc_free || read(go[0], &c, 1) != 1)
                        _exit(2);
                for (int i = 0; i < 50; i++) {
                        void *volatile p = libc_malloc(64 + (size_t) i);
                        libc_free(p);
                }
                _exit(0);
        }
        close(go[0]);
        up = load_one(&e, "feature-probes", "probe_uprobe", PROGRAM_UPROBE)->id;
        l = new_link(up, LINK_UPROBE);
        l->target = strdup("libc");
        l->function = strdup("malloc");
        l->pid = child;
        attach_ok(&e, l);
        g_assert_cmpint(write(go[1], "x", 1), ==, 1);
        close(go[1]);
        g_assert_cmpint(waitpid(child, &status, 0), ==, child);
        g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        g_printerr("# uprobe on malloc in pid %d: %" G_GUINT64_FORMAT " hits\n", (int) child,
                   read_map(&e, up, "hits", HIT_UPROBE));
        g_assert_cmpuint(read_map(&e, up, "hits", HIT_UPROBE), >=, 50);

        /* cgroup_skb egress: a child in the cgroup sends a datagram. */
        e.cgroup = g_strdup_printf("%s/bpfhub-test-%d-skb", FIXTURE_CGROUP_ROOT, (int) getpid());
        g_assert_cmpint(mkdir(e.cgroup, 0755), ==, 0);
        cg = load_one(&e, "feature-probes", "probe_cgroup_skb", PROGRAM_CGROUP)->id;
        l = new_link(cg, LINK_CGROUP);
        l->cgroup = strdup(e.cgroup);
        l->attach_type = strdup("egress");
        attach_ok(&e, l);
        child = fork();
        if (child == 0) {
                g_autofree char *procs = g_build_filename(e.cgroup, "cgroup.procs", NULL);
                struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
                int fd = open(procs, O_WRONLY | O_CLOEXEC), sock;
                if (fd < 0 || write(fd, "0", 1) != 1)
                        _exit(2);
                sock = socket(AF_INET, SOCK_DGRAM, 0);
                for (int i = 0; i < 3; i++)
                        (void) sendto(sock, "x", 1, 0, (struct sockaddr *) &to, sizeof to);
                _exit(0);
        }
        g_assert_cmpint(waitpid(child, &status, 0), ==, child);
        g_assert_cmpuint(read_map(&e, cg, "hits", HIT_CGROUP_SKB), >=, 3);

        /* XDP on the peer end, inside its network namespace. */
        netns_path = g_strdup_printf("/run/netns/%s", e.net.netns);
        xdp = load_one(&e, "test-globals", "globals_xdp", PROGRAM_XDP)->id;
        l = new_link(xdp, LINK_XDP);
        l->iface = strdup(e.net.peer_if);
        l->netns = strdup(netns_path);
        l->priority = 5;
        l->mode = strdup("generic");
        l = attach_ok(&e, l);
        g_assert_cmpstr(l->mode_used, ==, "generic");
        ping(&e);
        g_assert_cmpuint(read_map(&e, xdp, "seen", 1), >=, 2);
        g_assert_cmpint(fixture_run(NULL, "ip -n %s link show dev %s | grep -q xdp", e.net.netns, e.net.peer_if), ==, 0);

        while (e.state->n_programs > 0)
                g_assert_cmpint(state_unload(e.state, e.state->programs[0]->id), ==, 0);
        g_assert_cmpint(fixture_run(NULL, "! ip -n %s link show dev %s | grep -q xdp", e.net.netns, e.net.peer_if), ==, 0);
        env_stop(&e);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        log_set_max_level(LOG_ERR);
        g_test_add_func("/state/attach-kinds", test_attach_kinds);
        g_test_add_func("/state/reconcile", test_reconcile);
        g_test_add_func("/state/tcx-order", test_tcx_order);
        g_test_add_func("/state/tc-clsact", test_tc_clsact);
        g_test_add_func("/state/tcx-mark-chain", test_tcx_mark_chain);
        g_test_add_func("/state/more-kinds", test_more_kinds);
        return g_test_run();
}
