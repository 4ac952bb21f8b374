/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The program loader of the core library against the real kernel: groups,
 * globals, map sharing, pins, kernel info, and bad input that must leave no
 * pin and no kernel program behind. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>

#include "fixture.h"
#include "kernel-features.h"
#include "log.h"
#include "program.h"

typedef struct Env {
        char *scratch;
        char *bpffs;
        KernelFeatures kf;
} Env;

static bool env_start(Env *e) {
        *e = (Env) {};
        if (!fixture_require_root())
                return false;
        e->scratch = fixture_scratch_new("program");
        e->bpffs = g_build_filename(e->scratch, "bpffs", NULL);
        if (!fixture_mount("bpf", e->bpffs))
                return false;
        g_assert_cmpint(kernel_features_probe(&e->kf), ==, 0);
        return true;
}

static void env_stop(Env *e) {
        kernel_features_done(&e->kf);
        fixture_umount(e->bpffs);
        g_free(e->bpffs);
        fixture_scratch_free(e->scratch);
}

static char *object(const char *name) {
        g_autofree char *file = g_strdup_printf("bpf/%s.bpf.o", name);
        return fixture_build_path(file);
}

static void request_init(LoadRequest *req, const char *obj, const char *name, ProgramType type) {
        *req = (LoadRequest) { .path = object(obj), .n_programs = 1 };
        req->programs = g_new0(ProgramSpec, 1);
        req->programs[0] = (ProgramSpec) { .name = strdup(name), .type = type };
}

static void request_add(LoadRequest *req, const char *name, ProgramType type) {
        req->programs = realloc(req->programs, (req->n_programs + 1) * sizeof(ProgramSpec));
        req->programs[req->n_programs++] = (ProgramSpec) { .name = strdup(name), .type = type };
}

static void request_add_global(LoadRequest *req, const char *spec) {
        req->globals = realloc(req->globals, (req->n_globals + 1) * sizeof(GlobalValue));
        g_assert_cmpint(global_value_parse(spec, &req->globals[req->n_globals++]), ==, 0);
}

static void programs_free(Program **p, size_t n) {
        for (size_t i = 0; i < n; i++)
                program_free(p[i]);
        free(p);
}

/* Names of all programs in the kernel called "name". */
static unsigned count_kernel_programs(const char *name) {
        uint32_t id = 0;
        unsigned n = 0;

        while (bpf_prog_get_next_id(id, &id) == 0) {
                struct bpf_prog_info info = {};
                uint32_t len = sizeof info;
                int fd = bpf_prog_get_fd_by_id(id);
                if (fd < 0)
                        continue;
                if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 && strncmp(info.name, name, sizeof info.name) == 0)
                        n++;
                close(fd);
        }
        return n;
}

/* Program ids are freed after an RCU grace period. */
static bool wait_program_gone(uint32_t id) {
        for (int i = 0; i < 300; i++) {
                int fd = bpf_prog_get_fd_by_id(id);
                if (fd < 0 && errno == ENOENT)
                        return true;
                if (fd >= 0)
                        close(fd);
                g_usleep(10000);
        }
        return false;
}

static int test_run(int prog_fd) {
        uint8_t pkt[64] = {};
        LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt, .data_size_in = sizeof pkt, .repeat = 1);

        ((struct ethhdr *) pkt)->h_proto = htons(ETH_P_IP);
        g_assert_cmpint(bpf_prog_test_run_opts(prog_fd, &opts), ==, 0);
        return (int) opts.retval;
}

static void test_load_group_and_globals(void) {
        Program **progs = NULL;
        size_t n = 0;
        LoadRequest req;
        ErrorInfo err;
        json_object *info, *v, *maps_a, *maps_b;
        int fd;
        Env e;

        if (!env_start(&e))
                return env_stop(&e);

        request_init(&req, "test-globals", "globals_xdp", PROGRAM_XDP);
        request_add(&req, "globals_tc", PROGRAM_TC);
        request_add_global(&req, "verdict=01000000");           /* XDP_DROP */
        request_add_global(&req, "magic=0x2a00000000000000");
        req.metadata = g_strdupv((char *[]) { "owner=acme", NULL });
        req.group = strdup("demo");

        if (program_load(e.bpffs, &e.kf, &req, &progs, &n, &err) < 0)
                g_error("load failed: %s", err.message);
        g_assert_cmpuint(n, ==, 2);
        g_assert_cmpuint(progs[0]->group_id, ==, progs[0]->id);
        g_assert_cmpuint(progs[1]->group_id, ==, progs[0]->id);
        g_assert_cmpuint(progs[1]->map_owner_id, ==, progs[0]->id);
        g_assert_cmpstr(progs[0]->group, ==, "demo");
        g_assert_cmpstr(progs[0]->metadata[0], ==, "owner=acme");
        g_assert_cmpstr(progs[0]->globals[0], ==, "verdict=01000000");

        /* Pinned, and the globals changed what the program does. */
        fd = program_open_pinned(e.bpffs, progs[0]->id);
        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(test_run(fd), ==, 1 /* XDP_DROP */);
        g_assert_cmpuint(fixture_read_pinned_u64(e.bpffs, progs[0]->id, "seen", 0), ==, 42);

        /* Kernel info: both programs use the same "seen" map. */
        g_assert_cmpint(program_kernel_info(fd, &info), ==, 0);
        g_assert_true(json_object_object_get_ex(info, "name", &v));
        g_assert_cmpstr(json_object_get_string(v), ==, "globals_xdp");
        g_assert_true(json_object_object_get_ex(info, "type", &v));
        g_assert_cmpstr(json_object_get_string(v), ==, "xdp");
        g_assert_true(json_object_object_get_ex(info, "gpl", &v));
        g_assert_true(json_object_get_boolean(v));
        g_assert_true(json_object_object_get_ex(info, "verifiedInstructions", &v));
        g_assert_cmpint(json_object_get_int64(v), >, 0);
        g_assert_true(json_object_object_get_ex(info, "mapIds", &maps_a));
        close(fd);
        {
                json_object *info_b;
                g_assert_cmpint(program_kernel_info_by_id(progs[1]->id, &info_b), ==, 0);
                g_assert_true(json_object_object_get_ex(info_b, "mapIds", &maps_b));
                /* One object, one set of maps: the programs share "seen". */
                bool shared = false;
                for (size_t k = 0; k < json_object_array_length(maps_a); k++)
                        for (size_t l = 0; l < json_object_array_length(maps_b); l++)
                                shared |= json_object_get_int64(json_object_array_get_idx(maps_a, k)) ==
                                          json_object_get_int64(json_object_array_get_idx(maps_b, l));
                g_assert_true(shared);
                json_object_put(info_b);
        }
        json_object_put(info);

        /* Record round trip. */
        {
                json_object *j;
                Program *back = NULL;
                g_assert_cmpint(program_to_json(progs[0], &j), ==, 0);
                g_assert_cmpint(program_from_json(j, &back), ==, 0);
                g_assert_cmpuint(back->id, ==, progs[0]->id);
                g_assert_cmpstr(back->group, ==, "demo");
                g_assert_cmpstr(back->globals[1], ==, "magic=2a00000000000000");
                g_assert_cmpint(back->type, ==, PROGRAM_XDP);
                program_free(back);
                json_object_put(j);
        }

        /* Unpinning frees them in the kernel. */
        for (size_t i = 0; i < n; i++) {
                g_assert_cmpint(program_unpin(e.bpffs, progs[i]->id), ==, 0);
                g_assert_true(wait_program_gone(progs[i]->id));
        }
        programs_free(progs, n);
        load_request_done(&req);
        env_stop(&e);
}

static void test_map_sharing(void) {
        Program **owner = NULL, **sharer = NULL;
        size_t n1 = 0, n2 = 0;
        LoadRequest req;
        ErrorInfo err;
        int fd;
        Env e;

        if (!env_start(&e))
                return env_stop(&e);

        request_init(&req, "test-globals", "globals_xdp", PROGRAM_XDP);
        g_assert_cmpint(program_load(e.bpffs, &e.kf, &req, &owner, &n1, &err), ==, 0);
        load_request_done(&req);

        request_init(&req, "test-globals", "globals_xdp", PROGRAM_XDP);
        request_add_global(&req, "magic=0700000000000000");
        req.map_owner_id = owner[0]->id;
        if (program_load(e.bpffs, &e.kf, &req, &sharer, &n2, &err) < 0)
                g_error("sharer: %s", err.message);
        g_assert_cmpuint(sharer[0]->map_owner_id, ==, owner[0]->id);

        /* The sharer writes into the owner's pinned map. */
        fd = program_open_pinned(e.bpffs, sharer[0]->id);
        g_assert_cmpint(test_run(fd), ==, 2 /* XDP_PASS */);
        close(fd);
        g_assert_cmpuint(fixture_read_pinned_u64(e.bpffs, owner[0]->id, "seen", 0), ==, 7);
        g_assert_cmpuint(fixture_read_pinned_u64(e.bpffs, owner[0]->id, "seen", 1), ==, 1);
        /* And no map directory of its own. */
        {
                g_autofree char *own = map_pin_dir(e.bpffs, sharer[0]->id);
                g_assert_false(g_file_test(own, G_FILE_TEST_EXISTS));
        }

        load_request_done(&req);
        programs_free(sharer, n2);
        sharer = NULL;
        /* A map owner that does not exist. */
        request_init(&req, "test-globals", "globals_xdp", PROGRAM_XDP);
        req.map_owner_id = 999999;
        g_assert_cmpint(program_load(e.bpffs, &e.kf, &req, &sharer, &n2, &err), <, 0);
        g_assert_cmpstr(err.bus_error, ==, "org.bpfhub.Error.NoSuchProgram");
        load_request_done(&req);

        programs_free(owner, n1);
        env_stop(&e);
}

/* Each bad request fails with a clear message and leaves nothing behind. */
static void test_bad_input(void) {
        g_autofree char *not_elf = NULL, *not_bpf = NULL, *counter = object("xdp-counter");
        Env e;

        if (!env_start(&e))
                return env_stop(&e);

        not_elf = g_build_filename(e.scratch, "not-elf.o", NULL);
        g_assert_true(g_file_set_contents(not_elf, "this is not an ELF file\n", -1, NULL));
        not_bpf = g_find_program_in_path("true");

        const struct {
                const char *path, *name, *global, *expect, *bus_error;
                ProgramType type;
        } cases[] = {
                { not_elf, "probe_xdp", NULL, "is not an ELF file", "org.bpfhub.Error.InvalidBytecode", PROGRAM_XDP },
                { not_bpf, "probe_xdp", NULL, "not a BPF object", "org.bpfhub.Error.InvalidBytecode", PROGRAM_XDP },
                { "relative/x.o", "probe_xdp", NULL, "must be absolute", NULL, PROGRAM_XDP },
                { "/nonexistent/x.o", "probe_xdp", NULL, "Cannot open", NULL, PROGRAM_XDP },
                { NULL, "no_such_function", NULL, "has no program (function) named 'no_such_function'", "org.bpfhub.Error.InvalidBytecode", PROGRAM_XDP },
                { NULL, "globals_xdp", "verdict=0100", "has 4 bytes, but 2 bytes were given", NULL, PROGRAM_XDP },
                { NULL, "globals_xdp", "nosuchglobal=00", "no global variable 'nosuchglobal'", NULL, PROGRAM_XDP },
                /* Reads xdp_md fields: the verifier refuses it as a tracepoint. */
                { counter, "xdp_stats", NULL, "kernel refused", "org.bpfhub.Error.InvalidBytecode", PROGRAM_TRACEPOINT },
        };
        unsigned before = count_kernel_programs("globals_xdp") + count_kernel_programs("probe_xdp");

        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                Program **progs = NULL;
                size_t n = 0;
                LoadRequest req;
                ErrorInfo err;
                g_autofree char *programs = g_build_filename(e.bpffs, "programs", NULL);
                g_autofree char *maps = g_build_filename(e.bpffs, "maps", NULL);

                request_init(&req, "test-globals", cases[i].name, cases[i].type);
                if (cases[i].path) {
                        free(req.path);
                        req.path = strdup(cases[i].path);
                }
                if (cases[i].global)
                        request_add_global(&req, cases[i].global);

                g_assert_cmpint(program_load(e.bpffs, &e.kf, &req, &progs, &n, &err), <, 0);
                g_printerr("# %s -> %s\n", cases[i].expect, err.message);
                if (!strstr(err.message, cases[i].expect))
                        g_error("case %zu: expected '%s' in '%s'", i, cases[i].expect, err.message);
                g_assert_cmpstr(err.bus_error, ==, cases[i].bus_error);
                g_assert_cmpuint(fixture_count_entries(programs), ==, 0);
                g_assert_cmpuint(fixture_count_entries(maps), ==, 0);
                load_request_done(&req);
        }
        g_assert_cmpuint(count_kernel_programs("globals_xdp") + count_kernel_programs("probe_xdp"), ==, before);
        env_stop(&e);
}

static void test_unsupported_type(void) {
        const KernelFeature *f;
        Program **progs = NULL;
        size_t n = 0;
        LoadRequest req;
        ErrorInfo err;
        Env e;

        if (!env_start(&e))
                return env_stop(&e);
        f = kernel_features_find(&e.kf, "tracing");
        if (f->supported) {
                fixture_skip_unsupported("this kernel supports fentry; nothing to refuse");
                return env_stop(&e);
        }
        request_init(&req, "feature-probes", "probe_fentry", PROGRAM_FENTRY);
        g_assert_cmpint(program_load(e.bpffs, &e.kf, &req, &progs, &n, &err), ==, -EOPNOTSUPP);
        g_assert_cmpstr(err.bus_error, ==, "org.bpfhub.Error.UnsupportedByKernel");
        g_assert_nonnull(strstr(err.message, "kernel feature 'tracing'"));
        load_request_done(&req);
        env_stop(&e);
}

static void test_global_parse(void) {
        static const char *const bad[] = { "", "=01", "x=", "x=1", "x=zz", "x y=01", "x=0x", "noequals" };
        GlobalValue g;

        g_assert_cmpint(global_value_parse("a_b=0x0102ff", &g), ==, 0);
        g_assert_cmpstr(g.name, ==, "a_b");
        g_assert_cmpuint(g.size, ==, 3);
        g_assert_cmpuint(g.bytes[2], ==, 0xff);
        global_value_done(&g);
        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++)
                g_assert_cmpint(global_value_parse(bad[i], &g), ==, -EINVAL);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        log_set_max_level(LOG_ERR);
        g_test_add_func("/program/global-parse", test_global_parse);
        g_test_add_func("/program/load-group-and-globals", test_load_group_and_globals);
        g_test_add_func("/program/map-sharing", test_map_sharing);
        g_test_add_func("/program/bad-input", test_bad_input);
        g_test_add_func("/program/unsupported-type", test_unsupported_type);
        return g_test_run();
}
