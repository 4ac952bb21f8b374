/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Several programs on one hook, through bpfhubctl and bpfhubd, watched by
 * packets: libxdp's dispatcher with priorities and proceed-on, sharing the
 * hook with xdp-loader, and legacy tc filters in priority order. Runs in the
 * VM of tests/vm/run-in-vm (Debian's 6.1 kernel: freplace, no TCX); on a
 * kernel without freplace the XDP tests skip by the daemon's own probe. */
#include <bpf/bpf.h>
#include <json-c/json.h>
#include <stdarg.h>

#include "fixture.h"

#define XDP_PASS_HEX "02000000"
#define XDP_DROP_HEX "01000000"

typedef struct Env {
        char *scratch;
        BusFixture bus;
        NetnsFixture net;
} Env;

static bool env_start(Env *e) {
        *e = (Env) {};
        if (!fixture_require_root())
                return false;
        e->scratch = fixture_scratch_new("hooks");
        return bus_fixture_start(&e->bus, e->scratch, "--idle-timeout=0") && netns_fixture_start(&e->net, "hooks");
}

static void env_stop(Env *e) {
        netns_fixture_stop(&e->net);
        bus_fixture_stop(&e->bus);
        if (e->scratch)
                fixture_scratch_free(g_steal_pointer(&e->scratch));
}

static int ctl(char **out, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static int ctl(char **out, const char *fmt, ...) {
        g_autofree char *args = NULL;
        va_list ap;

        va_start(ap, fmt);
        args = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        return fixture_bpfhubctl(out, "--json=short %s 2>&1", args);
}

static json_object *ctl_json(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
static json_object *ctl_json(const char *fmt, ...) {
        g_autofree char *args = NULL, *out = NULL;
        json_object *j;
        va_list ap;

        va_start(ap, fmt);
        args = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        if (ctl(&out, "%s", args) != 0)
                g_error("bpfhubctl %s failed: %s", args, out);
        j = json_tokener_parse(out);
        if (!j)
                g_error("bpfhubctl %s printed no JSON: %s", args, out);
        return j;
}

static json_object *get(json_object *o, const char *key) {
        json_object *v = NULL;
        return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static uint64_t get_u64(json_object *o, const char *key) {
        return json_object_get_uint64(get(o, key));
}

typedef struct Loaded {
        uint32_t id;
        uint32_t link_id;
} Loaded;

/* `load file` of globals_xdp from bpf/test-globals.bpf.o: verdict is what
 * it returns, "seen"[1] counts its runs. */
static Loaded load_xdp(Env *e, const char *verdict_hex, int priority, const char *proceed_on) {
        json_object *j = ctl_json("load file --path bpf/test-globals.bpf.o --name globals_xdp -g verdict=%s "
                                  "xdp -i %s -p %d %s%s", verdict_hex, e->net.host_if, priority,
                                  proceed_on ? "--proceed-on " : "", proceed_on ? proceed_on : "");
        json_object *rec = get(j, "bpfhub"), *links = get(rec, "links");
        Loaded l = { .id = (uint32_t) get_u64(rec, "id") };

        g_assert_nonnull(links);
        g_assert_cmpuint(json_object_array_length(links), ==, 1);
        l.link_id = (uint32_t) get_u64(json_object_array_get_idx(links, 0), "id");
        g_assert_cmpuint(l.id, >, 0);
        g_assert_cmpuint(l.link_id, >, 0);
        json_object_put(j);
        return l;
}

static uint64_t runs(Env *e, uint32_t program_id) {
        return fixture_read_pinned_u64(e->bus.bpffs_root, program_id, "seen", 1);
}

/* A u64 in map "map" of kernel program id: for programs bpfhub did not load. */
static uint64_t foreign_map_u64(uint32_t prog_id, const char *map, uint32_t key) {
        uint32_t map_ids[16];
        struct bpf_prog_info info = { .nr_map_ids = G_N_ELEMENTS(map_ids), .map_ids = (uint64_t) (uintptr_t) map_ids };
        uint32_t len = sizeof info;
        int fd = bpf_prog_get_fd_by_id(prog_id);
        uint64_t value = 0;

        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(bpf_obj_get_info_by_fd(fd, &info, &len), ==, 0);
        close(fd);
        for (uint32_t i = 0; i < MIN(info.nr_map_ids, G_N_ELEMENTS(map_ids)); i++) {
                struct bpf_map_info minfo = {};
                uint32_t mlen = sizeof minfo;
                int mfd = bpf_map_get_fd_by_id(map_ids[i]);

                g_assert_cmpint(mfd, >=, 0);
                g_assert_cmpint(bpf_obj_get_info_by_fd(mfd, &minfo, &mlen), ==, 0);
                if (g_str_equal(minfo.name, map)) {
                        g_assert_cmpint(bpf_map_lookup_elem(mfd, &key, &value), ==, 0);
                        close(mfd);
                        return value;
                }
                close(mfd);
        }
        g_error("program %u has no map %s", prog_id, map);
}

static bool ping_ok(Env *e) {
        return fixture_run(NULL, "ping -c 2 -i 0.2 -W 1 -q %s >/dev/null 2>&1", e->net.peer_addr) == 0;
}

/* What list --iface says runs on the XDP hook, in order: program ids (ours:
 * bpfhub's id; others: the kernel id on the hook) and their run_prio. */
static size_t xdp_hook(Env *e, uint32_t *ids, uint32_t *prios, bool *managed, size_t max) {
        json_object *list = ctl_json("list --iface %s", e->net.host_if);
        size_t n = 0;

        for (size_t i = 0; i < json_object_array_length(list); i++) {
                json_object *x = json_object_array_get_idx(list, i);
                if (!g_str_equal(json_object_get_string(get(x, "hook")), "xdp"))
                        continue;
                g_assert_cmpuint(n, <, max);
                g_assert_cmpuint(get_u64(x, "position"), ==, n);
                g_assert_nonnull(get(x, "dispatcherId"));
                managed[n] = json_object_get_boolean(get(x, "managed"));
                ids[n] = (uint32_t) (managed[n] ? get_u64(x, "id") : get_u64(x, "hookProgramId"));
                prios[n] = (uint32_t) get_u64(x, "runPrio");
                g_printerr("# xdp[%zu]: %s program %u, run_prio %u\n", n, managed[n] ? "bpfhub" : "foreign", ids[n], prios[n]);
                n++;
        }
        json_object_put(list);
        return n;
}

static bool xdp_dispatcher_usable(Env *e) {
        if (!fixture_daemon_supports("xdp_multiprog")) {
                fixture_skip_unsupported("this kernel cannot run libxdp's dispatcher (no freplace); "
                                         "run this test through tests/vm/run-in-vm");
                return false;
        }
        return true;
}

static unsigned dispatcher_pins(void) {
        g_autofree char *out = NULL;
        (void) fixture_run(&out, "ls /sys/fs/bpf/xdp 2>/dev/null | grep -c '^dispatch-' || true");
        return out ? (unsigned) g_ascii_strtoull(out, NULL, 10) : 0;
}

/* Three programs: A passes, B drops, C passes, at priorities 10, 20, 30.
 * With B going on only after pass, its drop ends the chain: C never runs
 * and ping fails. Without B, C runs. B again, going on after drop too:
 * C's pass decides and ping works. */
static void test_xdp_priorities_and_proceed_on(void) {
        uint32_t ids[8], prios[8];
        bool managed[8];
        Loaded a, b, c;
        uint64_t a0, b0, c0;
        json_object *j;
        Env e;

        if (!env_start(&e) || !xdp_dispatcher_usable(&e))
                return env_stop(&e);
        a = load_xdp(&e, XDP_PASS_HEX, 10, NULL);
        c = load_xdp(&e, XDP_PASS_HEX, 30, NULL);
        b = load_xdp(&e, XDP_DROP_HEX, 20, "pass");

        g_assert_cmpuint(xdp_hook(&e, ids, prios, managed, G_N_ELEMENTS(ids)), ==, 3);
        g_assert_cmpuint(ids[0], ==, a.id);
        g_assert_cmpuint(ids[1], ==, b.id);
        g_assert_cmpuint(ids[2], ==, c.id);
        g_assert_cmpuint(prios[0], ==, 10);
        g_assert_cmpuint(prios[1], ==, 20);
        g_assert_cmpuint(prios[2], ==, 30);
        g_assert_true(managed[0] && managed[1] && managed[2]);

        /* Counted from here: C saw packets before B came. */
        a0 = runs(&e, a.id);
        b0 = runs(&e, b.id);
        c0 = runs(&e, c.id);
        g_assert_false(ping_ok(&e));
        g_printerr("# B drops, proceed-on pass: A +%" G_GUINT64_FORMAT " B +%" G_GUINT64_FORMAT " C +%" G_GUINT64_FORMAT "\n",
                   runs(&e, a.id) - a0, runs(&e, b.id) - b0, runs(&e, c.id) - c0);
        g_assert_cmpuint(runs(&e, a.id), >, a0);
        g_assert_cmpuint(runs(&e, b.id), >, b0);
        g_assert_cmpuint(runs(&e, c.id), ==, c0);

        /* The middle one goes; the others keep running. */
        g_assert_cmpint(ctl(NULL, "detach %u", b.link_id), ==, 0);
        g_assert_cmpuint(xdp_hook(&e, ids, prios, managed, G_N_ELEMENTS(ids)), ==, 2);
        g_assert_cmpuint(ids[0], ==, a.id);
        g_assert_cmpuint(ids[1], ==, c.id);
        a0 = runs(&e, a.id);
        b0 = runs(&e, b.id);
        c0 = runs(&e, c.id);
        g_assert_true(ping_ok(&e));
        g_assert_cmpuint(runs(&e, a.id), >, a0);
        g_assert_cmpuint(runs(&e, b.id), ==, b0);
        g_assert_cmpuint(runs(&e, c.id), >, c0);

        /* B again, now proceeding on drop as well. */
        j = ctl_json("attach %u xdp -i %s -p 20 --proceed-on drop pass", b.id, e.net.host_if);
        json_object_put(j);
        g_assert_cmpuint(xdp_hook(&e, ids, prios, managed, G_N_ELEMENTS(ids)), ==, 3);
        g_assert_cmpuint(ids[1], ==, b.id);
        b0 = runs(&e, b.id);
        c0 = runs(&e, c.id);
        g_assert_true(ping_ok(&e));
        g_printerr("# B drops, proceed-on drop pass: B +%" G_GUINT64_FORMAT " C +%" G_GUINT64_FORMAT "\n",
                   runs(&e, b.id) - b0, runs(&e, c.id) - c0);
        g_assert_cmpuint(runs(&e, b.id), >, b0);
        g_assert_cmpuint(runs(&e, c.id), >, c0);

        /* get reads B's place from the kernel and shows its proceed-on. */
        j = ctl_json("get %u", b.id);
        {
                json_object *l = json_object_array_get_idx(get(get(j, "bpfhub"), "links"), 0);
                g_assert_cmpuint(get_u64(l, "position"), ==, 1);
                g_assert_true(json_object_get_boolean(get(l, "xdpDispatcher")));
                g_assert_cmpstr(json_object_to_json_string(get(l, "proceedOn")), ==, "[ \"drop\", \"pass\" ]");
        }
        json_object_put(j);

        /* A bad proceed-on changes nothing. */
        {
                g_autofree char *out = NULL;
                g_assert_cmpint(ctl(&out, "attach %u xdp -i %s -p 40 --proceed-on ok", a.id, e.net.host_if), !=, 0);
                g_assert_nonnull(strstr(out, "Unknown XDP proceed-on action 'ok'"));
                g_assert_cmpuint(xdp_hook(&e, ids, prios, managed, G_N_ELEMENTS(ids)), ==, 3);
        }

        g_assert_cmpint(ctl(NULL, "unload %u", a.id), ==, 0);
        g_assert_cmpint(ctl(NULL, "unload %u", b.id), ==, 0);
        g_assert_cmpint(ctl(NULL, "unload %u", c.id), ==, 0);
        g_assert_cmpuint(xdp_hook(&e, ids, prios, managed, G_N_ELEMENTS(ids)), ==, 0);
        g_assert_cmpuint(dispatcher_pins(), ==, 0);
        {
                g_autofree char *objects = g_build_filename(e.bus.state_dir, "objects", NULL);
                g_assert_cmpuint(fixture_count_entries(objects), ==, 0);
        }
        env_stop(&e);
}

static uint32_t foreign_id_at(Env *e, size_t position) {
        uint32_t ids[8], prios[8];
        bool managed[8];
        size_t n = xdp_hook(e, ids, prios, managed, G_N_ELEMENTS(ids));

        g_assert_cmpuint(position, <, n);
        g_assert_false(managed[position]);
        return ids[position];
}

/* xdp-loader's program at run_prio 50 between bpfhubd's at 10 and 100;
 * either side detaches without disturbing the other. */
static void test_xdp_loader_coexistence(void) {
        g_autofree char *obj = fixture_build_path("bpf/test-globals.bpf.o");
        uint32_t ids[8], prios[8], foreign;
        bool managed[8];
        uint64_t f0, y0;
        Loaded x, y;
        Env e;

        if (!env_start(&e) || !xdp_dispatcher_usable(&e) || !fixture_require_program("xdp-loader"))
                return env_stop(&e);

        g_assert_cmpint(fixture_run(NULL, "xdp-loader load -m native -P 50 -n globals_xdp %s %s", e.net.host_if, obj), ==, 0);
        x = load_xdp(&e, XDP_PASS_HEX, 10, NULL);
        y = load_xdp(&e, XDP_PASS_HEX, 100, NULL);

        g_assert_cmpuint(xdp_hook(&e, ids, prios, managed, G_N_ELEMENTS(ids)), ==, 3);
        g_assert_cmpuint(ids[0], ==, x.id);
        g_assert_cmpuint(ids[2], ==, y.id);
        g_assert_cmpuint(prios[1], ==, 50);
        foreign = foreign_id_at(&e, 1);
        g_assert_true(ping_ok(&e));
        g_assert_cmpuint(runs(&e, x.id), >, 0);
        g_assert_cmpuint(foreign_map_u64(foreign, "seen", 1), >, 0);
        g_assert_cmpuint(runs(&e, y.id), >, 0);

        /* xdp-loader sees bpfhubd's programs on the dispatcher too. */
        {
                g_autofree char *out = NULL;
                g_assert_cmpint(fixture_run(&out, "xdp-loader status %s", e.net.host_if), ==, 0);
                g_printerr("%s", out);
                g_assert_nonnull(strstr(out, "globals_xdp"));
                g_assert_nonnull(strstr(out, "xdp_dispatcher"));
        }

        /* bpfhubd's first program goes: xdp-loader's runs on. */
        g_assert_cmpint(ctl(NULL, "unload %u", x.id), ==, 0);
        g_assert_cmpuint(xdp_hook(&e, ids, prios, managed, G_N_ELEMENTS(ids)), ==, 2);
        g_assert_cmpuint(foreign_id_at(&e, 0), ==, foreign);
        g_assert_cmpuint(ids[1], ==, y.id);
        f0 = foreign_map_u64(foreign, "seen", 1);
        y0 = runs(&e, y.id);
        g_assert_true(ping_ok(&e));
        g_assert_cmpuint(foreign_map_u64(foreign, "seen", 1), >, f0);
        g_assert_cmpuint(runs(&e, y.id), >, y0);

        /* xdp-loader's goes: bpfhubd's runs on, and knows its new place. */
        g_assert_cmpint(fixture_run(NULL, "xdp-loader unload %s --id %u", e.net.host_if, foreign), ==, 0);
        g_assert_cmpuint(xdp_hook(&e, ids, prios, managed, G_N_ELEMENTS(ids)), ==, 1);
        g_assert_cmpuint(ids[0], ==, y.id);
        y0 = runs(&e, y.id);
        g_assert_true(ping_ok(&e));
        g_assert_cmpuint(runs(&e, y.id), >, y0);
        {
                json_object *j = ctl_json("get %u", y.id);
                json_object *l = json_object_array_get_idx(get(get(j, "bpfhub"), "links"), 0);
                g_assert_cmpuint(get_u64(l, "position"), ==, 0);
                json_object_put(j);
        }

        g_assert_cmpint(ctl(NULL, "unload %u", y.id), ==, 0);
        g_assert_cmpuint(xdp_hook(&e, ids, prios, managed, G_N_ELEMENTS(ids)), ==, 0);
        g_assert_cmpuint(dispatcher_pins(), ==, 0);
        env_stop(&e);
}

/* Legacy clsact filters, as on kernels without TCX: three copies of
 * chain_tc (told apart by chain_index, sharing the "chain" map) at
 * priorities 30, 10, 20 run 2, 3, 1; proceed-on is what the kernel does. */
static void test_legacy_tc_order(void) {
        uint32_t first = 0, id[3];
        const int priorities[3] = { 30, 10, 20 };
        json_object *list;
        Env e;

        if (!env_start(&e))
                return env_stop(&e);
        for (int i = 0; i < 3; i++) {
                g_autofree char *owner = first ? g_strdup_printf("--map-owner-id %u", first) : g_strdup("");
                json_object *j = ctl_json("load file --path bpf/test-globals.bpf.o --name chain_tc -g chain_index=%02x000000 %s "
                                          "tc -i %s -d ingress -p %d", i + 1, owner, e.net.host_if, priorities[i]);
                id[i] = (uint32_t) get_u64(get(j, "bpfhub"), "id");
                json_object_put(j);
                if (!first)
                        first = id[i];
        }
        g_assert_true(ping_ok(&e));
        g_printerr("# mark chain after ping: %" G_GUINT64_FORMAT "\n",
                   fixture_read_pinned_u64(e.bus.bpffs_root, first, "chain", 0));
        g_assert_cmpuint(fixture_read_pinned_u64(e.bus.bpffs_root, first, "chain", 0), ==, 231);

        list = ctl_json("list --iface %s", e.net.host_if);
        {
                const uint32_t order[3] = { id[1], id[2], id[0] };
                size_t n = 0;
                for (size_t i = 0; i < json_object_array_length(list); i++) {
                        json_object *x = json_object_array_get_idx(list, i);
                        if (!g_str_equal(json_object_get_string(get(x, "hook")), "tc-ingress"))
                                continue;
                        g_assert_cmpuint(n, <, 3);
                        g_assert_cmpuint(get_u64(x, "id"), ==, order[n]);
                        g_assert_cmpuint(get_u64(x, "position"), ==, n);
                        n++;
                }
                g_assert_cmpuint(n, ==, 3);
        }
        json_object_put(list);

        {
                g_autofree char *out = NULL;
                g_assert_cmpint(ctl(&out, "attach %u tc -i %s -d ingress -p 40 --proceed-on ok pipe", id[0], e.net.host_if), !=, 0);
                g_assert_nonnull(strstr(out, "TC_ACT_UNSPEC"));
        }
        for (int i = 2; i >= 0; i--)
                g_assert_cmpint(ctl(NULL, "unload %u", id[i]), ==, 0);
        env_stop(&e);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/hooks/xdp-priorities-and-proceed-on", test_xdp_priorities_and_proceed_on);
        g_test_add_func("/hooks/xdp-loader-coexistence", test_xdp_loader_coexistence);
        g_test_add_func("/hooks/legacy-tc-order", test_legacy_tc_order);
        return g_test_run();
}
