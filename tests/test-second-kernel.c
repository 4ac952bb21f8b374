/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What only a kernel with kprobes and BPF trampolines can show, run in the
 * VM of tests/vm/run-in-vm (Debian's 6.1 kernel): fentry, fexit, kprobe and
 * kretprobe programs loaded and attached through bpfhubctl and bpfhubd,
 * observed firing on do_unlinkat, then unloaded without a trace. */
#include "feature-probes.h"
#include "fixture.h"

typedef struct Env {
        char *scratch;
        BusFixture bus;
} Env;

static bool env_start(Env *e) {
        *e = (Env) {};
        if (!fixture_require_root())
                return false;
        e->scratch = fixture_scratch_new("kernel2");
        return bus_fixture_start(&e->bus, e->scratch, "--idle-timeout=0");
}

static void env_stop(Env *e) {
        bus_fixture_stop(&e->bus);
        if (e->scratch)
                fixture_scratch_free(g_steal_pointer(&e->scratch));
}

static void unlink_something(Env *e) {
        g_autofree char *victim = g_build_filename(e->scratch, "victim", NULL);

        for (int i = 0; i < 3; i++) {
                g_assert_true(g_file_set_contents(victim, "x", -1, NULL));
                g_assert_cmpint(unlink(victim), ==, 0);
        }
}

static void check_probe(const char *feature, const char *name, const char *type_args, unsigned slot) {
        g_autofree char *out = NULL;
        uint64_t hits;
        uint32_t id;
        Env e;

        if (!env_start(&e))
                return env_stop(&e);
        if (!fixture_daemon_supports(feature)) {
                fixture_skip_unsupported("this kernel cannot run %s programs (run this test through tests/vm/run-in-vm)", feature);
                return env_stop(&e);
        }
        g_assert_cmpint(fixture_bpfhubctl(&out, "--json=short load file --path bpf/feature-probes.bpf.o --name %s %s", name, type_args),
                        ==, 0);
        {
                const char *p = strstr(out, "\"kernel\":{");
                g_assert_nonnull(p);
                p = strstr(p, "\"id\":");
                g_assert_nonnull(p);
                id = (uint32_t) g_ascii_strtoull(p + 5, NULL, 10);
        }
        unlink_something(&e);
        hits = fixture_read_pinned_u64(e.bus.bpffs_root, id, "hits", slot);
        g_test_message("%s %s: %" G_GUINT64_FORMAT " hits", name, type_args, hits);
        g_assert_cmpuint(hits, >=, 3);
        g_assert_cmpint(fixture_bpfhubctl(NULL, "unload %u", id), ==, 0);
        {
                g_autofree char *pins = g_build_filename(e.bus.bpffs_root, "programs", NULL);
                g_autofree char *links = g_build_filename(e.bus.bpffs_root, "links", NULL);
                g_assert_cmpuint(fixture_count_entries(pins), ==, 0);
                g_assert_cmpuint(fixture_count_entries(links), ==, 0);
        }
        env_stop(&e);
}

static void test_kprobe(void) {
        check_probe("kprobe", "probe_kprobe", "kprobe --fn-name do_unlinkat", HIT_KPROBE);
}

static void test_kretprobe(void) {
        check_probe("kprobe", "probe_kprobe", "kprobe --fn-name do_unlinkat --retprobe", HIT_KPROBE);
}

static void test_fentry(void) {
        check_probe("tracing", "probe_fentry", "fentry --fn-name do_unlinkat", HIT_FENTRY);
}

static void test_fexit(void) {
        check_probe("tracing", "probe_fentry", "fexit --fn-name do_unlinkat", HIT_FENTRY);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/second-kernel/kprobe", test_kprobe);
        g_test_add_func("/second-kernel/kretprobe", test_kretprobe);
        g_test_add_func("/second-kernel/fentry", test_fentry);
        g_test_add_func("/second-kernel/fexit", test_fexit);
        return g_test_run();
}
