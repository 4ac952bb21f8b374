/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Every method of the D-Bus contract driven with random and boundary
 * arguments — right and wrong signatures, huge and empty strings, empty and
 * long arrays, unknown options, bad object paths — a bounded number of
 * times as root and as uid 65534. The daemon must answer every call, stay
 * the same process, and leave nothing behind: no pins, no records, no
 * images, no programs in the kernel it did not have before. */
#include <bpf/bpf.h>
#include <gio/gio.h>

#include "contract.h"
#include "fixture.h"

#define ROOT_CALLS 600
#define NOBODY_CALLS 200

static const char *const string_pool[] = {
        "", "/", "/nonexistent.o", "/etc/passwd", "/dev/zero", "/proc/self/mem", "relative.o", "../../etc/shadow",
        "oci:", "oci:/nonexistent:v1", "oci:relative", "xdp", "tc", "cgroup", "fentry", "ingress", "egress",
        "lo", "no-such-iface0", "Always", "Never", "IfNotPresent", "sometimes", "127.0.0.1:1/none/such:v1",
        "UPPER/case", "a@sha256:00", "sha256:0000000000000000000000000000000000000000000000000000000000000000",
        "\x01\x02control", "k=v", "=", "NAME=zz", "NAME=00", "syscalls/sys_enter_getpid", "-1", "4294967295",
        "%n%s%x", "\xe2\x98\x83", "group", "metadata", "globals",
};

typedef struct Fuzzer {
        GRand *rand;
        GPtrArray *targets;     /* "path\tinterface\tmethod\tsignature" */
} Fuzzer;

static const char *random_string(Fuzzer *f, char **owned) {
        switch (g_rand_int_range(f->rand, 0, 6)) {
        case 0: {
                /* Over every limit the daemon has. */
                size_t n = (size_t) g_rand_int_range(f->rand, 4000, 70000);
                *owned = g_malloc(n + 1);
                memset(*owned, 'a' + g_rand_int_range(f->rand, 0, 26), n);
                (*owned)[n] = '\0';
                return *owned;
        }
        case 1: {
                size_t n = (size_t) g_rand_int_range(f->rand, 1, 64);
                *owned = g_malloc(n + 1);
                for (size_t i = 0; i < n; i++)
                        (*owned)[i] = (char) g_rand_int_range(f->rand, 0x21, 0x7f);
                (*owned)[n] = '\0';
                return *owned;
        }
        default:
                return string_pool[g_rand_int_range(f->rand, 0, G_N_ELEMENTS(string_pool))];
        }
}

static uint32_t random_u32(Fuzzer *f) {
        static const uint32_t pool[] = { 0, 1, 2, 7, 64, 65, 4096, 0x7fffffff, 0x80000000, UINT32_MAX };
        return g_rand_boolean(f->rand) ? pool[g_rand_int_range(f->rand, 0, G_N_ELEMENTS(pool))] : g_rand_int(f->rand);
}

static int append_random(Fuzzer *f, sd_bus_message *m, const char *sig, unsigned depth);

/* One complete type at *sig (advanced past it). */
static int append_one(Fuzzer *f, sd_bus_message *m, const char **sig, unsigned depth) {
        g_autofree char *owned = NULL;
        char t = **sig;
        int r;

        switch (t) {
        case 's':
                (*sig)++;
                return sd_bus_message_append_basic(m, 's', random_string(f, &owned));
        case 'o': {
                const char *p = g_rand_boolean(f->rand) ? "/org/bpfhub/Manager1/program/1" : "/";
                (*sig)++;
                return sd_bus_message_append_basic(m, 'o', p);
        }
        case 'u': {
                uint32_t v = random_u32(f);
                (*sig)++;
                return sd_bus_message_append_basic(m, 'u', &v);
        }
        case 'i': {
                int32_t v = (int32_t) random_u32(f);
                (*sig)++;
                return sd_bus_message_append_basic(m, 'i', &v);
        }
        case 't': {
                uint64_t v = ((uint64_t) random_u32(f) << 32) | random_u32(f);
                (*sig)++;
                return sd_bus_message_append_basic(m, 't', &v);
        }
        case 'b': {
                int v = g_rand_boolean(f->rand);
                (*sig)++;
                return sd_bus_message_append_basic(m, 'b', &v);
        }
        case 'v': {
                static const char *const inner[] = { "s", "u", "i", "b", "as", "a{ss}", "t" };
                const char *c = inner[g_rand_int_range(f->rand, 0, G_N_ELEMENTS(inner))];
                (*sig)++;
                r = sd_bus_message_open_container(m, 'v', c);
                if (r >= 0)
                        r = append_random(f, m, c, depth + 1);
                return r < 0 ? r : sd_bus_message_close_container(m);
        }
        case 'a': {
                const char *elem = *sig + 1, *end = elem;
                g_autofree char *element = NULL;
                unsigned n = depth > 2 ? 0 : (unsigned) g_rand_int_range(f->rand, 0, g_rand_boolean(f->rand) ? 3 : 80);
                int level = 0;

                /* The element type ends where the brackets balance. */
                do {
                        if (*end == '{' || *end == '(')
                                level++;
                        else if (*end == '}' || *end == ')')
                                level--;
                        end++;
                } while (level > 0 || end[-1] == 'a');
                element = g_strndup(elem, (gsize) (end - elem));
                *sig = end;
                r = sd_bus_message_open_container(m, 'a', element);
                for (unsigned i = 0; r >= 0 && i < n; i++)
                        r = append_random(f, m, element, depth + 1);
                return r < 0 ? r : sd_bus_message_close_container(m);
        }
        case '{':
        case '(': {
                char close = t == '{' ? '}' : ')';
                const char *inner_start = *sig + 1, *p = inner_start;
                g_autofree char *contents = NULL;
                int level = 1;
                while (level > 0) {
                        if (*p == '{' || *p == '(')
                                level++;
                        else if (*p == '}' || *p == ')')
                                level--;
                        p++;
                }
                contents = g_strndup(inner_start, (gsize) (p - 1 - inner_start));
                *sig = p;
                r = sd_bus_message_open_container(m, t == '{' ? 'e' : 'r', contents);
                if (r >= 0)
                        r = append_random(f, m, contents, depth + 1);
                (void) close;
                return r < 0 ? r : sd_bus_message_close_container(m);
        }
        default:
                g_error("signature character '%c' not handled", t);
        }
}

static int append_random(Fuzzer *f, sd_bus_message *m, const char *sig, unsigned depth) {
        int r = 0;

        while (r >= 0 && *sig)
                r = append_one(f, m, &sig, depth);
        return r;
}

static void collect_targets(Fuzzer *f, uint32_t program_id) {
        static const char *const contracts[] = { "org.bpfhub.Manager1", "org.bpfhub.Program1", "org.bpfhub.Link1",
                                                 "org.bpfhub.Transfer1", "org.bpfhub.Image1" };

        f->targets = g_ptr_array_new_with_free_func(g_free);
        for (size_t c = 0; c < G_N_ELEMENTS(contracts); c++) {
                g_autoptr(GDBusNodeInfo) info = contract_load(contracts[c]);
                for (GDBusInterfaceInfo **i = info->interfaces; i && *i; i++)
                        for (GDBusMethodInfo **m = (*i)->methods; m && *m; m++) {
                                GString *sig = g_string_new(NULL);
                                const char *kind = c == 1 ? "program" : c == 2 ? "link" : c == 3 ? "transfer" : "image";
                                g_autofree char *p = c == 0 ? g_strdup("/org/bpfhub/Manager1")
                                                            : g_strdup_printf("/org/bpfhub/Manager1/%s/%u", kind, program_id);
                                for (GDBusArgInfo **a = (*m)->in_args; a && *a; a++)
                                        g_string_append(sig, (*a)->signature);
                                g_ptr_array_add(f->targets, g_strdup_printf("%s\t%s\t%s\t%s", p, (*i)->name, (*m)->name, sig->str));
                                g_string_free(sig, TRUE);
                        }
        }
}

/* One random call; returns false if the daemon did not answer at all. */
static bool fuzz_call(Fuzzer *f, sd_bus *bus, GHashTable *errors) {
        static const char *const wrong_sigs[] = { "", "s", "u", "ss", "a{sv}", "sa(sss)", "uu", "as", "b" };
        const char *target = g_ptr_array_index(f->targets, g_rand_int_range(f->rand, 0, (gint32) f->targets->len));
        g_auto(GStrv) parts = g_strsplit(target, "\t", 4);
        const char *sig = g_rand_int_range(f->rand, 0, 5) == 0 ? wrong_sigs[g_rand_int_range(f->rand, 0, G_N_ELEMENTS(wrong_sigs))]
                                                               : parts[3];
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *m = NULL, *reply = NULL;
        int r;

        g_assert_cmpint(sd_bus_message_new_method_call(bus, &m, BPFHUB_BUS_NAME, parts[0], parts[1], parts[2]), >=, 0);
        (void) sd_bus_message_set_allow_interactive_authorization(m, false);
        g_assert_cmpint(append_random(f, m, sig, 0), >=, 0);
        r = sd_bus_call(bus, m, 30 * 1000 * 1000, &error, &reply);
        if (r < 0) {
                g_hash_table_add(errors, g_strdup(error.name ?: "(none)"));
                /* A call that got no answer at all is the one failure. */
                if (sd_bus_error_has_name(&error, SD_BUS_ERROR_NO_REPLY) || sd_bus_error_has_name(&error, SD_BUS_ERROR_TIMEOUT) ||
                    sd_bus_error_has_name(&error, SD_BUS_ERROR_SERVICE_UNKNOWN) ||
                    sd_bus_error_has_name(&error, SD_BUS_ERROR_NAME_HAS_NO_OWNER)) {
                        g_printerr("# %s.%s(%s) on %s: %s: %s\n", parts[1], parts[2], sig, parts[0], error.name, error.message);
                        sd_bus_error_free(&error);
                        sd_bus_message_unref(m);
                        return false;
                }
        } else
                g_hash_table_add(errors, g_strdup_printf("ok:%s", parts[2]));
        sd_bus_error_free(&error);
        sd_bus_message_unref(reply);
        sd_bus_message_unref(m);
        return true;
}

typedef struct NobodyRun {
        guint32 seed;
        uint32_t program_id;
} NobodyRun;

static int nobody_fuzz(sd_bus *bus, void *userdata) {
        NobodyRun *n = userdata;
        g_autoptr(GHashTable) errors = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        Fuzzer f = { .rand = g_rand_new_with_seed(n->seed) };

        collect_targets(&f, n->program_id);
        for (unsigned i = 0; i < NOBODY_CALLS; i++)
                if (!fuzz_call(&f, bus, errors))
                        return 1;
        /* Nobody is granted nothing that changes state. */
        GHashTableIter it;
        gpointer key;
        g_hash_table_iter_init(&it, errors);
        while (g_hash_table_iter_next(&it, &key, NULL))
                if (g_str_has_prefix(key, "ok:") && !g_str_equal(key, "ok:Ping")) {
                        const char *method = (const char *) key + 3;
                        if (!g_str_equal(method, "Describe") && !g_str_equal(method, "ListPrograms") &&
                            !g_str_equal(method, "ListImages") && !g_str_equal(method, "GetProgram") &&
                            !g_str_equal(method, "GetImage")) {
                                g_printerr("# nobody succeeded with %s\n", method);
                                return 2;
                        }
                }
        g_ptr_array_unref(f.targets);
        g_rand_free(f.rand);
        return 0;
}

static void test_fuzz_methods(void) {
        g_autoptr(GHashTable) errors = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        g_autofree char *scratch = NULL, *object = fixture_build_path("bpf/feature-probes.bpf.o"), *program_path = NULL;
        guint32 seed = g_test_rand_int();
        BusFixture bus = {};
        sd_bus *client;
        Fuzzer f = { .rand = g_rand_new_with_seed(seed) };
        sd_bus_message *reply = NULL;
        uint32_t program_id;
        const char *path;
        pid_t daemon;
        unsigned before;

        if (!fixture_require_root())
                return;
        g_test_message("seed %u (rerun with --seed to repeat)", seed);
        scratch = fixture_scratch_new("busfuzz");
        if (!bus_fixture_start(&bus, scratch, "--idle-timeout=0"))
                goto out;
        client = bus_fixture_connect(&bus);

        /* One real program, so object paths and ids sometimes hit something. */
        g_assert_cmpint(sd_bus_call_method(client, BPFHUB_BUS_NAME, BPFHUB_MANAGER_PATH, BPFHUB_MANAGER_INTERFACE, "Load",
                                           NULL, &reply, "sa(sss)a{sv}", object, 1, "probe_xdp", "xdp", "", 0), >=, 0);
        g_assert_cmpint(sd_bus_message_read(reply, "a(uo)", 1, &program_id, &path), >=, 0);
        program_path = g_strdup(path);
        reply = sd_bus_message_unref(reply);
        daemon = bus_fixture_daemon_pid(client);
        before = fixture_count_kernel_programs();

        /* As nobody first: the program must survive it. */
        {
                NobodyRun n = { .seed = seed ^ 0x5a5a5a5a, .program_id = program_id };
                g_assert_cmpint(bus_fixture_as_nobody(&bus, nobody_fuzz, &n), ==, 0);
        }
        g_assert_cmpint(bus_fixture_daemon_pid(client), ==, daemon);
        g_assert_cmpuint(fixture_count_kernel_programs(), ==, before);

        collect_targets(&f, program_id + 1000000);      /* root: paths of things that do not exist */
        for (unsigned i = 0; i < ROOT_CALLS; i++)
                if (!fuzz_call(&f, client, errors))
                        g_error("call %u got no answer (seed %u)", i, seed);
        g_assert_cmpint(bus_fixture_daemon_pid(client), ==, daemon);

        {
                GHashTableIter it;
                gpointer key;
                GString *seen = g_string_new(NULL);
                g_hash_table_iter_init(&it, errors);
                while (g_hash_table_iter_next(&it, &key, NULL))
                        g_string_append_printf(seen, " %s", (const char *) key);
                g_test_message("answers seen:%s", seen->str);
                g_string_free(seen, TRUE);
        }

        /* Nothing left behind but the one program loaded on purpose. */
        g_assert_cmpint(sd_bus_call_method(client, BPFHUB_BUS_NAME, program_path, "org.bpfhub.Program1", "Unload", NULL, NULL, NULL), >=, 0);
        for (const char *const *d = (const char *const[]) { "programs", "links", "maps", NULL }; *d; d++) {
                g_autofree char *pins = g_build_filename(bus.bpffs_root, *d, NULL);
                g_autofree char *records = g_build_filename(bus.state_dir, *d, NULL);
                g_assert_cmpuint(fixture_count_entries(pins), ==, 0);
                g_assert_cmpuint(fixture_count_entries(records), ==, 0);
        }
        {
                g_autofree char *blobs = g_build_filename(bus.image_store, "blobs", "sha256", NULL);
                g_assert_cmpuint(fixture_count_entries(blobs), ==, 0);
        }
        g_assert_cmpuint(fixture_count_kernel_programs(), ==, before - 1);
        sd_bus_flush_close_unref(client);
out:
        bus_fixture_stop(&bus);
        g_ptr_array_unref(f.targets);
        g_rand_free(f.rand);
        fixture_scratch_free(g_steal_pointer(&scratch));
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/bus-fuzz/every-method", test_fuzz_methods);
        return g_test_run();
}
