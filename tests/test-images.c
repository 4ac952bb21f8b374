/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* OCI images through bpfhubd against Debian's docker-registry on loopback:
 * plain HTTP, TLS with basic auth, TLS with bearer tokens; the formats
 * bpfman and bumblebee publish; pull policies; corrupted and hostile
 * content; cancel and SIGKILL mid-pull (against a slow registry the test
 * serves itself); skopeo reading the store. */
#include <arpa/inet.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "contract.h"
#include "fixture.h"
#include "registry-fixture.h"

#define XDP_FUNCTION "xdp_stats"
#define _cleanup_(f) __attribute__((cleanup(f)))
#define strna(s) ((s) ?: "n/a")

typedef struct Env {
        char *scratch;
        RegistryFixture reg;
        BusFixture bus;
        sd_bus *client;
        char *store;
} Env;

static void write_config(Env *e, const char *registry_host) {
        g_autofree char *conf = g_build_filename(e->bus.config_dir, "bpfhub.conf", NULL);
        g_autofree char *text = g_strdup_printf("[Registries]\nInsecure=%s\n", registry_host);

        g_assert_cmpint(g_mkdir_with_parents(e->bus.config_dir, 0755), ==, 0);
        g_assert_true(g_file_set_contents(conf, text, -1, NULL));
}

static void install_ca(Env *e) {
        g_autofree char *dir = g_build_filename(e->bus.config_dir, "certs.d", e->reg.host, NULL);
        g_autofree char *dst = g_build_filename(dir, "ca.crt", NULL);
        g_autofree char *pem = NULL;

        g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
        g_assert_true(g_file_get_contents(e->reg.ca_path, &pem, NULL, NULL));
        g_assert_true(g_file_set_contents(dst, pem, -1, NULL));
}

static bool env_start(Env *e, RegistryMode mode) {
        *e = (Env) {};
        if (!fixture_require_root() || !fixture_require_program("docker-registry"))
                return false;
        e->scratch = fixture_scratch_new("images");
        if (!registry_fixture_start(&e->reg, e->scratch, mode) || !registry_fixture_publish_test_images(&e->reg))
                return false;
        if (!bus_fixture_start(&e->bus, e->scratch, "--idle-timeout=0"))
                return false;
        if (mode == REGISTRY_PLAIN)
                write_config(e, e->reg.host);
        else {
                /* Token mode: the token service is plain HTTP on loopback. */
                write_config(e, e->reg.token_host ? e->reg.token_host : "");
                install_ca(e);
        }
        e->store = g_strdup(e->bus.image_store);
        e->client = bus_fixture_connect(&e->bus);
        return true;
}

static void env_stop(Env *e) {
        e->client = sd_bus_flush_close_unref(e->client);
        bus_fixture_stop(&e->bus);
        registry_fixture_stop(&e->reg);
        g_free(e->store);
        if (e->scratch)
                fixture_scratch_free(g_steal_pointer(&e->scratch));
}

static char *ref(Env *e, const char *name) {
        return g_strdup_printf("%s/%s", e->reg.host, name);
}

static char *basic_auth(Env *e) {
        g_autofree char *plain = g_strdup_printf("%s:%s", e->reg.username, e->reg.password);
        return g_base64_encode((const guchar *) plain, strlen(plain));
}

typedef struct PullResult {
        char *state, *digest, *error_name, *error_message;
        uint64_t max_done;
} PullResult;

static void pull_result_clear(PullResult *p) {
        g_free(p->state);
        g_free(p->digest);
        g_free(p->error_name);
        g_free(p->error_message);
}

typedef struct Watch {
        const char *path;
        PullResult *result;
        bool done;
} Watch;

static int on_signal(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Watch *w = userdata;
        const char *state, *digest, *name, *message;

        if (!w->path || g_strcmp0(sd_bus_message_get_path(m), w->path) != 0)
                return 0;
        if (sd_bus_message_is_signal(m, "org.bpfhub.Transfer1", "Finished") &&
            sd_bus_message_read(m, "ssss", &state, &digest, &name, &message) >= 0) {
                w->result->state = g_strdup(state);
                w->result->digest = g_strdup(digest);
                w->result->error_name = g_strdup(name);
                w->result->error_message = g_strdup(message);
                w->done = true;
        }
        return 0;
}

static void wait_until(sd_bus *bus, bool *flag, unsigned timeout_ms) {
        gint64 deadline = g_get_monotonic_time() + (gint64) timeout_ms * 1000;

        while (!*flag) {
                g_assert_cmpint(g_get_monotonic_time(), <, deadline);
                if (sd_bus_process(bus, NULL) > 0)
                        continue;
                (void) sd_bus_wait(bus, 100000);
        }
}

/* PullImage and wait for Finished: 0 on success, else the error of the call. */
static int pull(Env *e, const char *reference, const char *policy, const char *auth, PullResult *res,
                sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        Watch w = { .result = res };
        const char *path;
        uint32_t id;
        int r;

        *res = (PullResult) {};
        g_assert_cmpint(sd_bus_match_signal(e->client, &slot, NULL, NULL, "org.bpfhub.Transfer1", "Finished", on_signal, &w), >=, 0);
        g_assert_cmpint(sd_bus_message_new_method_call(e->client, &m, "org.bpfhub.Manager1", "/org/bpfhub/Manager1",
                                                       "org.bpfhub.Manager1", "PullImage"), >=, 0);
        g_assert_cmpint(sd_bus_message_append(m, "s", reference), >=, 0);
        g_assert_cmpint(sd_bus_message_open_container(m, 'a', "{sv}"), >=, 0);
        if (policy)
                g_assert_cmpint(sd_bus_message_append(m, "{sv}", "pull_policy", "s", policy), >=, 0);
        if (auth)
                g_assert_cmpint(sd_bus_message_append(m, "{sv}", "registry_auth", "s", auth), >=, 0);
        g_assert_cmpint(sd_bus_message_close_container(m), >=, 0);
        r = sd_bus_call(e->client, m, 0, error, &reply);
        if (r < 0)
                return r;
        g_assert_cmpint(sd_bus_message_read(reply, "uo", &id, &path), >=, 0);
        w.path = path;
        wait_until(e->client, &w.done, 60000);
        return g_strcmp0(res->state, "done") == 0 ? 0 : -EIO;
}

/* A pull that must succeed. */
static char *pull_ok(Env *e, const char *reference, const char *policy, const char *auth) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        PullResult res;
        char *digest;

        if (pull(e, reference, policy, auth, &res, &error) < 0)
                g_error("pull of %s failed: %s %s / %s %s", reference, strna(error.name), strna(error.message),
                        strna(res.error_name), strna(res.error_message));
        digest = g_steal_pointer(&res.digest);
        pull_result_clear(&res);
        return digest;
}

/* A pull that must fail with error_name (from the call or from Finished). */
static char *pull_fails(Env *e, const char *reference, const char *policy, const char *auth, const char *error_name) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        PullResult res;
        char *message;
        int r;

        r = pull(e, reference, policy, auth, &res, &error);
        g_assert_cmpint(r, <, 0);
        if (error.name) {
                g_assert_cmpstr(error.name, ==, error_name);
                message = g_strdup(error.message);
        } else {
                g_assert_cmpstr(res.state, ==, "failed");
                if (g_strcmp0(res.error_name, error_name) != 0)
                        g_error("pull of %s: expected %s, got %s: %s", reference, error_name, res.error_name, res.error_message);
                message = g_strdup(res.error_message);
        }
        pull_result_clear(&res);
        g_test_message("%s → %s: %s", reference, error_name, message);
        return message;
}

static json_object *get_image(Env *e, const char *reference) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *text;

        if (sd_bus_call_method(e->client, "org.bpfhub.Manager1", "/org/bpfhub/Manager1", "org.bpfhub.Manager1", "GetImage",
                               &error, &reply, "s", reference) < 0)
                g_error("GetImage %s: %s", reference, error.message);
        g_assert_cmpint(sd_bus_message_read(reply, "s", &text), >=, 0);
        return json_tokener_parse(text);
}

/* Loads XDP_FUNCTION from the image; returns the program id or 0 with *error set. */
static uint32_t load_image(Env *e, const char *source, const char *function, const char *policy, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        const char *path;
        uint32_t id;

        g_assert_cmpint(sd_bus_message_new_method_call(e->client, &m, "org.bpfhub.Manager1", "/org/bpfhub/Manager1",
                                                       "org.bpfhub.Manager1", "Load"), >=, 0);
        g_assert_cmpint(sd_bus_message_append(m, "sa(sss)", source, 1, function, "xdp", ""), >=, 0);
        g_assert_cmpint(sd_bus_message_open_container(m, 'a', "{sv}"), >=, 0);
        if (policy)
                g_assert_cmpint(sd_bus_message_append(m, "{sv}", "pull_policy", "s", policy), >=, 0);
        g_assert_cmpint(sd_bus_message_close_container(m), >=, 0);
        if (sd_bus_call(e->client, m, 60 * 1000 * 1000, error, &reply) < 0)
                return 0;
        g_assert_cmpint(sd_bus_message_read(reply, "a(uo)", 1, &id, &path), >=, 0);
        return id;
}

static uint32_t load_image_ok(Env *e, const char *source, const char *policy) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        uint32_t id = load_image(e, source, XDP_FUNCTION, policy, &error);

        if (id == 0)
                g_error("load of %s failed: %s: %s", source, error.name, error.message);
        return id;
}

static void unload(Env *e, uint32_t id) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        g_assert_cmpint(sd_bus_call_method(e->client, "org.bpfhub.Manager1", "/org/bpfhub/Manager1", "org.bpfhub.Manager1",
                                           "Unload", &error, NULL, "u", id), >=, 0);
}

static int remove_image(Env *e, const char *reference, sd_bus_error *error) {
        return sd_bus_call_method(e->client, "org.bpfhub.Manager1", "/org/bpfhub/Manager1", "org.bpfhub.Manager1",
                                  "RemoveImage", error, NULL, "s", reference);
}

static unsigned store_blobs(Env *e) {
        g_autofree char *dir = g_build_filename(e->store, "blobs", "sha256", NULL);
        return fixture_count_entries(dir);
}

static unsigned store_ingest(Env *e) {
        g_autofree char *dir = g_build_filename(e->store, "ingest", NULL);
        return fixture_count_entries(dir);
}

static unsigned store_entries(Env *e) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *text;
        json_object *j;
        unsigned n;

        g_assert_cmpint(sd_bus_call_method(e->client, "org.bpfhub.Manager1", "/org/bpfhub/Manager1", "org.bpfhub.Manager1",
                                           "ListImages", &error, &reply, "a{sv}", 0), >=, 0);
        g_assert_cmpint(sd_bus_message_read(reply, "s", &text), >=, 0);
        j = json_tokener_parse(text);
        n = (unsigned) json_object_array_length(j);
        json_object_put(j);
        return n;
}

static const char *jstr(json_object *j, const char *key) {
        json_object *v;
        return json_object_object_get_ex(j, key, &v) ? json_object_get_string(v) : NULL;
}

/* skopeo reads our store as an OCI layout, byte for byte what the registry served. */
static void assert_skopeo_reads_store(Env *e, const char *reference, const char *digest) {
        g_autofree char *out = NULL, *sum = NULL;

        if (!fixture_require_program("skopeo"))
                return;
        g_assert_cmpint(fixture_run(&out, "skopeo inspect --raw 'oci:%s:%s' | sha256sum", e->store, reference), ==, 0);
        sum = g_strdup_printf("%s  -\n", digest + strlen("sha256:"));
        g_assert_cmpstr(out, ==, sum);
}

static void test_plain_pull_load_remove(void) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        g_autofree char *reference = NULL, *digest = NULL;
        json_object *img, *programs, *maps, *v;
        uint32_t id;
        Env e;

        if (!env_start(&e, REGISTRY_PLAIN))
                return env_stop(&e);
        reference = ref(&e, "bpfman/xdp-counter:v1");
        digest = pull_ok(&e, reference, NULL, NULL);
        g_assert_true(g_str_has_prefix(digest, "sha256:"));
        assert_skopeo_reads_store(&e, reference, digest);

        img = get_image(&e, reference);
        g_assert_cmpstr(jstr(img, "reference"), ==, reference);
        g_assert_cmpstr(jstr(img, "digest"), ==, digest);
        g_assert_cmpstr(jstr(img, "format"), ==, "bpfman");
        g_assert_cmpstr(jstr(img, "architecture"), ==, "amd64");
        g_assert_true(json_object_object_get_ex(img, "programs", &programs));
        g_assert_true(json_object_object_get_ex(programs, XDP_FUNCTION, &v));
        g_assert_cmpstr(json_object_get_string(v), ==, "xdp");
        g_assert_true(json_object_object_get_ex(img, "maps", &maps));
        g_assert_cmpint(json_object_object_length(maps), >=, 1);
        json_object_put(img);

        /* A name the labels do not list is refused before the kernel sees anything. */
        g_assert_cmpuint(load_image(&e, reference, "no_such_function", NULL, &error), ==, 0);
        g_assert_cmpstr(error.name, ==, "org.bpfhub.Error.InvalidBytecode");
        g_assert_nonnull(strstr(error.message, XDP_FUNCTION));
        sd_bus_error_free(&error);

        {
                g_autofree char *object = NULL;
                g_assert_cmpint(sd_bus_path_encode("/org/bpfhub/Manager1/image", reference, &object), >=, 0);
                contract_assert_object(e.client, object, "org.bpfhub.Image1");
        }
        id = load_image_ok(&e, reference, NULL);
        img = get_image(&e, reference);
        g_assert_true(json_object_object_get_ex(img, "usedBy", &v));
        g_assert_cmpuint(json_object_array_length(v), ==, 1);
        g_assert_cmpuint(json_object_get_uint64(json_object_array_get_idx(v, 0)), ==, id);
        json_object_put(img);

        /* In use: the removal says why it cannot. */
        g_assert_cmpint(remove_image(&e, reference, &error), <, 0);
        g_assert_cmpstr(error.name, ==, "org.bpfhub.Error.ImageInUse");
        g_assert_nonnull(strstr(error.message, "unload"));
        sd_bus_error_free(&error);

        unload(&e, id);
        g_assert_cmpint(remove_image(&e, reference, &error), >=, 0);
        g_assert_cmpuint(store_entries(&e), ==, 0);
        g_assert_cmpuint(store_blobs(&e), ==, 0);
        g_assert_cmpint(remove_image(&e, reference, &error), <, 0);
        g_assert_cmpstr(error.name, ==, "org.bpfhub.Error.NoSuchImage");
        env_stop(&e);
}

static void test_plain_formats(void) {
        static const char *const images[] = {
                "bpfman/xdp-counter-docker:v1", "bpfman/legacy:v1", "bumblebee/xdp-counter:v1", "bpfman/multi:v1",
        };
        Env e;

        if (!env_start(&e, REGISTRY_PLAIN))
                return env_stop(&e);
        for (size_t i = 0; i < G_N_ELEMENTS(images); i++) {
                g_autofree char *reference = ref(&e, images[i]);
                uint32_t id = load_image_ok(&e, reference, NULL); /* pulls: IfNotPresent */
                json_object *img = get_image(&e, reference);
                g_test_message("%s: format %s, digest %s", images[i], jstr(img, "format"), jstr(img, "digest"));
                if (g_str_has_prefix(images[i], "bumblebee"))
                        g_assert_cmpstr(jstr(img, "format"), ==, "bumblebee");
                if (g_str_has_prefix(images[i], "bpfman/multi")) {
                        g_assert_nonnull(jstr(img, "indexDigest"));
                        g_assert_cmpstr(jstr(img, "architecture"), ==, "amd64");
                }
                if (g_str_has_prefix(images[i], "bpfman/legacy")) {
                        json_object *v;
                        g_assert_true(json_object_object_get_ex(img, "legacyLabels", &v));
                        g_assert_true(json_object_get_boolean(v));
                }
                json_object_put(img);
                unload(&e, id);
        }
        env_stop(&e);
}

static void test_plain_arch_and_endianness(void) {
        g_autofree char *noamd64 = NULL, *wrong = NULL, *message = NULL;
        unsigned blobs;
        Env e;

        if (!env_start(&e, REGISTRY_PLAIN))
                return env_stop(&e);
        noamd64 = ref(&e, "bpfman/noamd64:v1");
        wrong = ref(&e, "bpfman/wrong-endian:v1");
        blobs = store_blobs(&e);
        message = pull_fails(&e, noamd64, NULL, NULL, "org.bpfhub.Error.NoSuchImage");
        g_assert_nonnull(strstr(message, "linux/arm64"));
        g_assert_nonnull(strstr(message, "linux/s390x"));
        g_clear_pointer(&message, g_free);
        message = pull_fails(&e, wrong, NULL, NULL, "org.bpfhub.Error.InvalidBytecode");
        g_assert_nonnull(strstr(message, "big-endian"));
        g_assert_cmpuint(store_blobs(&e), ==, blobs);
        g_assert_cmpuint(store_entries(&e), ==, 0);
        env_stop(&e);
}

static void test_plain_policies(void) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        g_autofree char *reference = NULL, *legacy = NULL, *digest = NULL, *again = NULL;
        uint32_t id;
        Env e;

        if (!env_start(&e, REGISTRY_PLAIN))
                return env_stop(&e);
        reference = ref(&e, "bpfman/xdp-counter:v1");
        legacy = ref(&e, "bpfman/legacy:v1");

        /* Never, with no copy in the store: a clear error, nothing fetched. */
        g_assert_cmpuint(load_image(&e, reference, XDP_FUNCTION, "Never", &error), ==, 0);
        g_assert_cmpstr(error.name, ==, "org.bpfhub.Error.NoSuchImage");
        g_assert_nonnull(strstr(error.message, "Never"));
        sd_bus_error_free(&error);

        digest = pull_ok(&e, reference, NULL, NULL);

        /* The registry goes away: IfNotPresent and Never load the cached copy... */
        g_assert_true(registry_fixture_pause(&e.reg));
        id = load_image_ok(&e, reference, "IfNotPresent");
        unload(&e, id);
        id = load_image_ok(&e, reference, "Never");
        unload(&e, id);
        again = pull_ok(&e, reference, "IfNotPresent", NULL);
        g_assert_cmpstr(again, ==, digest);
        g_clear_pointer(&again, g_free);
        /* ...Always goes to the registry and says it cannot reach it. */
        g_free(pull_fails(&e, reference, "Always", NULL, "org.bpfhub.Error.RegistryUnreachable"));
        g_free(pull_fails(&e, legacy, NULL, NULL, "org.bpfhub.Error.RegistryUnreachable"));
        g_assert_true(registry_fixture_resume(&e.reg));
        again = pull_ok(&e, reference, "Always", NULL);
        g_assert_cmpstr(again, ==, digest);

        /* Bad policy names and references are InvalidArgs before anything happens. */
        g_free(pull_fails(&e, reference, "Sometimes", NULL, SD_BUS_ERROR_INVALID_ARGS));
        g_free(pull_fails(&e, "Upper/Case", NULL, NULL, SD_BUS_ERROR_INVALID_ARGS));
        g_free(pull_fails(&e, "oci:relative/dir", NULL, NULL, SD_BUS_ERROR_INVALID_ARGS));
        g_free(pull_fails(&e, reference, NULL, "%%%notbase64", SD_BUS_ERROR_INVALID_ARGS));
        env_stop(&e);
}

static void test_plain_corrupt_and_hostile(void) {
        static const struct {
                const char *image, *error;
        } hostile[] = {
                { "hostile/traversal:v1", "org.bpfhub.Error.InvalidBytecode" },
                { "hostile/absolute:v1", "org.bpfhub.Error.InvalidBytecode" },
                { "hostile/symlink:v1", "org.bpfhub.Error.InvalidBytecode" },
                { "hostile/device:v1", "org.bpfhub.Error.InvalidBytecode" },
                { "hostile/oversize:v1", "org.bpfhub.Error.LimitsExceeded" },
                { "hostile/notgzip:v1", "org.bpfhub.Error.InvalidBytecode" },
                { "hostile/twofiles:v1", "org.bpfhub.Error.InvalidBytecode" },
        };
        g_autofree char *reference = NULL, *manifest = NULL, *layer_path = NULL;
        json_object *j, *layers;
        unsigned blobs;
        Env e;

        if (!env_start(&e, REGISTRY_PLAIN))
                return env_stop(&e);
        blobs = store_blobs(&e);
        for (size_t i = 0; i < G_N_ELEMENTS(hostile); i++) {
                g_autofree char *r = ref(&e, hostile[i].image);
                g_free(pull_fails(&e, r, NULL, NULL, hostile[i].error));
                g_assert_cmpuint(store_blobs(&e), ==, blobs);
                g_assert_cmpuint(store_ingest(&e), ==, 0);
        }

        /* One byte of the layer flipped in the registry's own storage. */
        reference = ref(&e, "bpfman/xdp-counter:v1");
        g_assert_cmpint(fixture_run(&manifest, "curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' "
                                    "http://%s/v2/bpfman/xdp-counter/manifests/v1", e.reg.host), ==, 0);
        j = json_tokener_parse(manifest);
        g_assert_true(json_object_object_get_ex(j, "layers", &layers));
        layer_path = registry_fixture_blob_path(&e.reg, jstr(json_object_array_get_idx(layers, 0), "digest"));
        json_object_put(j);
        g_assert_cmpint(fixture_run(NULL, "printf 'X' | dd of=%s bs=1 seek=100 conv=notrunc status=none", layer_path), ==, 0);
        g_free(pull_fails(&e, reference, NULL, NULL, "org.bpfhub.Error.DigestMismatch"));
        g_assert_cmpuint(store_blobs(&e), ==, blobs);
        g_assert_cmpuint(store_entries(&e), ==, 0);
        g_assert_cmpuint(store_ingest(&e), ==, 0);
        env_stop(&e);
}

static void test_tls_basic_auth(void) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        g_autofree char *reference = NULL, *auth = NULL, *message = NULL, *auth_file = NULL, *json = NULL;
        uint32_t id;
        Env e;

        if (!env_start(&e, REGISTRY_TLS_BASIC))
                return env_stop(&e);
        reference = ref(&e, "bpfman/xdp-counter:v1");
        auth = basic_auth(&e);

        message = pull_fails(&e, reference, NULL, NULL, "org.bpfhub.Error.RegistryUnauthorized");
        g_assert_nonnull(strstr(message, "credentials"));
        g_clear_pointer(&message, g_free);
        message = pull_fails(&e, reference, NULL, "d3Jvbmc6d3Jvbmc=", "org.bpfhub.Error.RegistryUnauthorized"); /* wrong:wrong */
        g_assert_nonnull(strstr(message, "refused"));
        g_free(pull_ok(&e, reference, NULL, auth));
        g_assert_cmpint(remove_image(&e, reference, &error), >=, 0);

        /* Credentials from <config-dir>/auth.json, as podman writes it. */
        auth_file = g_build_filename(e.bus.config_dir, "auth.json", NULL);
        json = g_strdup_printf("{\"auths\":{\"%s\":{\"auth\":\"%s\"}}}", e.reg.host, auth);
        g_assert_true(g_file_set_contents(auth_file, json, -1, NULL));
        id = load_image_ok(&e, reference, NULL);
        unload(&e, id);
        env_stop(&e);
}

static void test_tls_token_auth(void) {
        g_autofree char *reference = NULL, *auth = NULL, *message = NULL, *digest = NULL;
        Env e;

        if (!env_start(&e, REGISTRY_TLS_TOKEN))
                return env_stop(&e);
        reference = ref(&e, "bpfman/multi:v1");
        auth = basic_auth(&e);
        message = pull_fails(&e, reference, NULL, NULL, "org.bpfhub.Error.RegistryUnauthorized");
        g_test_message("%s", message);
        digest = pull_ok(&e, reference, NULL, auth);
        assert_skopeo_reads_store(&e, reference, digest);
        env_stop(&e);
}

/* A registry that serves one image slowly (or fails the first requests):
 * cancel and SIGKILL need a pull that is still running. */
typedef struct SlowRegistry {
        int fd;
        uint16_t port;
        pthread_t thread;
        volatile bool stop;
        char *manifest, *manifest_digest, *config, *config_digest, *layer_digest;
        GBytes *layer;
        unsigned delay_us;              /* between 16 KiB chunks of the layer */
        volatile int fail_next;         /* answer 503 to this many requests first */
        volatile unsigned layer_requests;
} SlowRegistry;

static void send_all(int fd, const void *p, size_t n) {
        while (n > 0) {
                ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
                if (k <= 0)
                        return;
                p = (const char *) p + k;
                n -= (size_t) k;
        }
}

static void slow_serve(SlowRegistry *s, int c) {
        char req[4096] = "", path[1024] = "", header[512];
        ssize_t n = recv(c, req, sizeof req - 1, 0);
        const void *body = "";
        size_t size = 0;
        const char *type = "application/json";

        if (n <= 0 || sscanf(req, "GET %1023s", path) != 1)
                return;
        if (s->fail_next > 0) {
                s->fail_next--;
                static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
                send_all(c, busy, strlen(busy));
                return;
        }
        if (strstr(path, "/manifests/")) {
                body = s->manifest;
                size = strlen(s->manifest);
                type = "application/vnd.oci.image.manifest.v1+json";
        } else if (strstr(path, s->config_digest)) {
                body = s->config;
                size = strlen(s->config);
        } else if (strstr(path, s->layer_digest)) {
                body = g_bytes_get_data(s->layer, &size);
                type = "application/octet-stream";
                s->layer_requests++;
        } else {
                static const char nf[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
                send_all(c, nf, strlen(nf));
                return;
        }
        snprintf(header, sizeof header, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                 type, size);
        send_all(c, header, strlen(header));
        for (size_t off = 0; off < size && !s->stop; off += 16384) {
                send_all(c, (const char *) body + off, MIN((size_t) 16384, size - off));
                if (type[0] == 'a' && strstr(type, "octet") && s->delay_us)
                        g_usleep(s->delay_us);
        }
}

static void *slow_thread(void *userdata) {
        SlowRegistry *s = userdata;

        while (!s->stop) {
                int c = accept(s->fd, NULL, NULL);
                if (c < 0)
                        continue;
                slow_serve(s, c);
                close(c);
        }
        return NULL;
}

static void slow_registry_start(SlowRegistry *s, unsigned delay_us) {
        g_autofree char *elf_path = fixture_build_path("bpf/xdp-counter.bpf.o"), *elf = NULL, *padded = NULL;
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof a;
        gsize elf_size;

        *s = (SlowRegistry) { .delay_us = delay_us };
        g_assert_true(g_file_get_contents(elf_path, &elf, &elf_size, NULL));
        /* An ELF with 1 MiB of incompressible bytes after it is still a valid object. */
        padded = g_malloc(elf_size + (1 << 20));
        memcpy(padded, elf, elf_size);
        for (size_t i = 0; i < (1 << 20); i++)
                padded[elf_size + i] = (char) g_random_int();
        s->layer = test_layer_targz("big.bpf.o", padded, elf_size + (1 << 20));
        s->layer_digest = g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, s->layer);
        s->config = g_strdup("{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Labels\":{\"io.ebpf.programs\":"
                             "\"{\\\"" XDP_FUNCTION "\\\":\\\"xdp\\\"}\"}}}");
        s->config_digest = g_compute_checksum_for_string(G_CHECKSUM_SHA256, s->config, -1);
        s->manifest = g_strdup_printf("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                                      "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:%s\",\"size\":%zu},"
                                      "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:%s\",\"size\":%zu}]}",
                                      s->config_digest, strlen(s->config), s->layer_digest, g_bytes_get_size(s->layer));
        s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        g_assert_cmpint(s->fd, >=, 0);
        g_assert_cmpint(bind(s->fd, (struct sockaddr *) &a, sizeof a), ==, 0);
        g_assert_cmpint(listen(s->fd, 16), ==, 0);
        g_assert_cmpint(getsockname(s->fd, (struct sockaddr *) &a, &len), ==, 0);
        s->port = ntohs(a.sin_port);
        g_assert_cmpint(pthread_create(&s->thread, NULL, slow_thread, s), ==, 0);
}

static void slow_registry_stop(SlowRegistry *s) {
        s->stop = true;
        shutdown(s->fd, SHUT_RDWR);
        close(s->fd);
        pthread_join(s->thread, NULL);
        g_free(s->manifest);
        g_free(s->config);
        g_free(s->config_digest);
        g_free(s->layer_digest);
        g_bytes_unref(s->layer);
}

static uint64_t transfer_bytes_done(Env *e, const char *path) {
        uint64_t v = 0;
        (void) sd_bus_get_property_trivial(e->client, "org.bpfhub.Manager1", path, "org.bpfhub.Transfer1", "BytesDone", NULL, 't', &v);
        return v;
}

/* Starts a pull from the slow registry and waits until bytes arrive. */
static char *start_slow_pull(Env *e, const char *reference) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *path;
        uint32_t id;
        gint64 deadline = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;

        if (sd_bus_call_method(e->client, "org.bpfhub.Manager1", "/org/bpfhub/Manager1", "org.bpfhub.Manager1", "PullImage",
                               &error, &reply, "sa{sv}", reference, 0) < 0)
                g_error("PullImage: %s", error.message);
        g_assert_cmpint(sd_bus_message_read(reply, "uo", &id, &path), >=, 0);
        while (transfer_bytes_done(e, path) == 0) {
                g_assert_cmpint(g_get_monotonic_time(), <, deadline);
                g_usleep(20000);
        }
        return g_strdup(path);
}

static void test_cancel_kill_retry(void) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        g_autofree char *reference = NULL, *path = NULL, *host = NULL, *real = NULL;
        SlowRegistry s;
        PullResult res = {};
        Watch w = { .result = &res };
        pid_t daemon;
        Env e;

        if (!env_start(&e, REGISTRY_PLAIN))
                return env_stop(&e);
        slow_registry_start(&s, 50000);        /* 16 KiB per 50 ms: a 1 MiB layer takes seconds */
        host = g_strdup_printf("127.0.0.1:%u", s.port);
        {
                g_autofree char *conf = g_build_filename(e.bus.config_dir, "bpfhub.conf", NULL);
                g_autofree char *text = g_strdup_printf("[Registries]\nInsecure=%s %s\n", e.reg.host, host);
                g_assert_true(g_file_set_contents(conf, text, -1, NULL));
        }
        reference = g_strdup_printf("%s/slow/image:v1", host);

        /* Cancel mid-pull: Finished says cancelled, nothing is stored. */
        g_assert_cmpint(sd_bus_match_signal(e.client, &slot, NULL, NULL, "org.bpfhub.Transfer1", "Finished", on_signal, &w), >=, 0);
        path = start_slow_pull(&e, reference);
        w.path = path;
        contract_assert_object(e.client, path, "org.bpfhub.Transfer1");
        g_assert_cmpint(sd_bus_call_method(e.client, "org.bpfhub.Manager1", path, "org.bpfhub.Transfer1", "Cancel", &error,
                                           NULL, ""), >=, 0);
        wait_until(e.client, &w.done, 10000);
        g_assert_cmpstr(res.state, ==, "cancelled");
        g_assert_cmpstr(res.error_name, ==, "org.bpfhub.Error.Cancelled");
        g_assert_cmpuint(store_entries(&e), ==, 0);
        g_assert_cmpuint(store_ingest(&e), ==, 0);
        g_assert_cmpuint(store_blobs(&e), ==, 0);
        pull_result_clear(&res);
        slot = sd_bus_slot_unref(slot);
        g_clear_pointer(&path, g_free);

        /* SIGKILL mid-pull: the next daemon starts clean and pulls fine. */
        path = start_slow_pull(&e, reference);
        daemon = bus_fixture_daemon_pid(e.client);
        g_assert_cmpint(daemon, >, 0);
        g_assert_cmpint(kill(daemon, SIGKILL), ==, 0);
        g_assert_true(bus_fixture_wait_name_gone(e.client, 5000));
        g_assert_cmpuint(store_entries(&e), ==, 0);   /* activates a new daemon */
        g_assert_cmpuint(store_ingest(&e), ==, 0);
        real = ref(&e, "bpfman/xdp-counter:v1");
        g_free(pull_ok(&e, real, NULL, NULL));
        g_assert_cmpuint(store_entries(&e), ==, 1);

        /* At most 16 transfers at once: the 17th is LimitsExceeded, nothing
         * changes; cancelling them leaves the store as it was. */
        {
                g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func(g_free);
                _cleanup_(sd_bus_error_free) sd_bus_error limit = SD_BUS_ERROR_NULL;
                g_autofree char *extra = g_strdup_printf("%s/slow/extra:v1", host);
                for (unsigned i = 0; i < 16; i++) {
                        g_autofree char *r = g_strdup_printf("%s/slow/many%u:v1", host, i);
                        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
                        const char *p;
                        uint32_t tid;
                        g_assert_cmpint(sd_bus_call_method(e.client, "org.bpfhub.Manager1", "/org/bpfhub/Manager1",
                                                           "org.bpfhub.Manager1", "PullImage", NULL, &reply, "sa{sv}", r, 0), >=, 0);
                        g_assert_cmpint(sd_bus_message_read(reply, "uo", &tid, &p), >=, 0);
                        g_ptr_array_add(paths, g_strdup(p));
                }
                g_assert_cmpint(sd_bus_call_method(e.client, "org.bpfhub.Manager1", "/org/bpfhub/Manager1", "org.bpfhub.Manager1",
                                                   "PullImage", &limit, NULL, "sa{sv}", extra, 0), <, 0);
                g_assert_cmpstr(limit.name, ==, "org.bpfhub.Error.LimitsExceeded");
                for (unsigned i = 0; i < paths->len; i++)
                        (void) sd_bus_call_method(e.client, "org.bpfhub.Manager1", g_ptr_array_index(paths, i),
                                                  "org.bpfhub.Transfer1", "Cancel", NULL, NULL, "");
                g_assert_cmpuint(store_entries(&e), ==, 1);
                g_assert_cmpuint(store_ingest(&e), ==, 0);
        }

        /* Transient 503s are retried; the pull then completes. */
        s.delay_us = 0;
        s.fail_next = 2;
        g_free(pull_ok(&e, reference, NULL, NULL));
        g_assert_cmpuint(store_entries(&e), ==, 2);
        slow_registry_stop(&s);
        env_stop(&e);
}

static void test_oci_layout_source(void) {
        g_autofree char *layout = NULL, *source = NULL;
        uint32_t id;
        Env e;

        if (!env_start(&e, REGISTRY_PLAIN))
                return env_stop(&e);
        layout = g_build_filename(e.scratch, "layout", NULL);
        g_assert_true(registry_fixture_write_oci_layout(layout, "v1"));
        source = g_strdup_printf("oci:%s:v1", layout);
        id = load_image_ok(&e, source, NULL);
        unload(&e, id);
        g_assert_cmpuint(store_entries(&e), ==, 1);
        env_stop(&e);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/images/plain/pull-load-remove", test_plain_pull_load_remove);
        g_test_add_func("/images/plain/formats", test_plain_formats);
        g_test_add_func("/images/plain/arch-and-endianness", test_plain_arch_and_endianness);
        g_test_add_func("/images/plain/policies", test_plain_policies);
        g_test_add_func("/images/plain/corrupt-and-hostile", test_plain_corrupt_and_hostile);
        g_test_add_func("/images/plain/oci-layout-source", test_oci_layout_source);
        g_test_add_func("/images/plain/cancel-kill-retry", test_cancel_kill_retry);
        g_test_add_func("/images/tls/basic-auth", test_tls_basic_auth);
        g_test_add_func("/images/tls/token-auth", test_tls_token_auth);
        return g_test_run();
}
