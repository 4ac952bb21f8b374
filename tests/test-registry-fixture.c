/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The registry fixture checked with clients it does not share code with:
 * skopeo reads back, byte for byte, what the fixture published in all three
 * set-ups and from an OCI layout; the registry answers anonymous clients
 * with the right challenge; the hostile layers hold what they claim;
 * pause and resume keep the storage. */
#include <archive.h>
#include <archive_entry.h>
#include <curl/curl.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "fixture.h"
#include "registry-fixture.h"

#define ACCEPT_MANIFESTS                                                                                     \
        "Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, "      \
        "application/vnd.docker.distribution.manifest.v2+json, "                                             \
        "application/vnd.docker.distribution.manifest.list.v2+json"

/* Records a failure and goes on; every message is printed (the test
 * report keeps only the last). */
static void G_GNUC_PRINTF(1, 2) check_failed(const char *fmt, ...) {
        g_autofree char *message = NULL;
        va_list ap;

        va_start(ap, fmt);
        message = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        g_printerr("# %s\n", message);
        g_test_fail_printf("%s", message);
}

typedef struct Env {
        char *scratch;
        RegistryFixture reg;
} Env;

static bool env_start(Env *e, RegistryMode mode) {
        *e = (Env) {};
        if (!fixture_require_root() || !fixture_require_program("skopeo"))
                return false;
        e->scratch = fixture_scratch_new("registry");
        return registry_fixture_start(&e->reg, e->scratch, mode) && registry_fixture_publish_test_images(&e->reg);
}

static void env_stop(Env *e) {
        registry_fixture_stop(&e->reg);
        if (e->scratch)
                fixture_scratch_free(g_steal_pointer(&e->scratch));
}

/* skopeo's options for the fixture: TLS through a cert dir with the CA,
 * credentials where the registry wants them. */
static char *skopeo_options(Env *e) {
        g_autofree char *certs = NULL, *pem = NULL, *ca = NULL;

        if (e->reg.mode == REGISTRY_PLAIN)
                return g_strdup("--tls-verify=false");
        certs = g_build_filename(e->scratch, "skopeo-certs", NULL);
        ca = g_build_filename(certs, "ca.crt", NULL);
        g_assert_cmpint(g_mkdir_with_parents(certs, 0755), ==, 0);
        g_assert_true(g_file_get_contents(e->reg.ca_path, &pem, NULL, NULL));
        g_assert_true(g_file_set_contents(ca, pem, -1, NULL));
        return g_strdup_printf("--cert-dir '%s' --creds '%s:%s'", certs, e->reg.username, e->reg.password);
}

/* Runs `skopeo inspect --raw` and compares its output with the bytes expected. */
static void assert_skopeo_raw(const char *options, const char *transport_ref, const char *expected) {
        g_autofree char *out = NULL, *cmd = g_strdup_printf("skopeo inspect %s --raw '%s'", options, transport_ref);

        if (fixture_run(&out, "%s", cmd) != 0) {
                check_failed("'%s' failed (its output is above)", cmd);
                return;
        }
        if (g_strcmp0(out, expected) != 0)
                check_failed("'%s' returned other bytes than were published:\n#   got      %s\n#   expected %s", cmd, out,
                                   expected);
}

static void assert_skopeo_reads(Env *e, const char *image) {
        g_autofree char *options = skopeo_options(e), *expected = registry_fixture_test_manifest(image);
        g_autofree char *ref = g_strdup_printf("docker://%s/%s", e->reg.host, image);

        g_assert_nonnull(expected);
        assert_skopeo_raw(options, ref, expected);
}

typedef struct Answer {
        long status;
        GString *headers;       /* raw, all responses */
        GByteArray *body;
} Answer;

static void answer_clear(Answer *a) {
        if (a->headers)
                g_string_free(a->headers, TRUE);
        if (a->body)
                g_byte_array_unref(a->body);
        *a = (Answer) {};
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Answer, answer_clear)

static size_t on_header(char *data, size_t size, size_t n, void *userdata) {
        g_string_append_len(userdata, data, (gssize) (size * n));
        return size * n;
}

static size_t on_body(char *data, size_t size, size_t n, void *userdata) {
        g_byte_array_append(userdata, (const guint8 *) data, (guint) (size * n));
        return size * n;
}

/* A GET on the registry (or any URL), anonymous unless userpwd is given
 * ("user:password", sent as basic credentials); status 0 when nothing answered. */
static void http_get(Env *e, const char *url, const char *userpwd, Answer *a) {
        struct curl_slist *h = curl_slist_append(NULL, ACCEPT_MANIFESTS);
        CURL *c = curl_easy_init();

        *a = (Answer) { .headers = g_string_new(NULL), .body = g_byte_array_new() };
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_PROXY, "");
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, a->headers);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, a->body);
        if (e->reg.ca_path)
                curl_easy_setopt(c, CURLOPT_CAINFO, e->reg.ca_path);
        if (userpwd) {
                curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
                curl_easy_setopt(c, CURLOPT_USERPWD, userpwd);
        }
        if (curl_easy_perform(c) == CURLE_OK)
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a->status);
        curl_easy_cleanup(c);
        curl_slist_free_all(h);
}

static char *registry_url(Env *e, const char *path) {
        return g_strdup_printf("%s://%s%s", e->reg.mode == REGISTRY_PLAIN ? "http" : "https", e->reg.host, path);
}

/* The repository and reference of "repo:tag". */
static char *manifest_url(Env *e, const char *image) {
        g_autofree char *repo = g_strndup(image, strrchr(image, ':') - image);
        g_autofree char *path = g_strdup_printf("/v2/%s/manifests/%s", repo, strrchr(image, ':') + 1);

        return registry_url(e, path);
}

/* An unauthenticated request is refused with a challenge of this scheme. */
static void assert_challenge(Env *e, const char *expected) {
        g_autofree char *url = manifest_url(e, "bpfman/xdp-counter:v1"), *lower = NULL, *want = NULL, *headers = NULL;
        g_auto(GStrv) lines = NULL;
        g_auto(Answer) a = {};

        http_get(e, url, NULL, &a);
        lower = g_ascii_strdown(a.headers->str, -1);
        want = g_ascii_strdown(expected, -1);
        if (a.status == 401 && strstr(lower, want))
                return;
        lines = g_strsplit(g_strchomp(a.headers->str), "\r\n", -1);
        headers = g_strjoinv("\n#   ", lines);
        check_failed("anonymous GET %s answered %ld without '%s':\n#   %s", url, a.status, expected, headers);
}

/* Every published manifest and index comes back byte-exact. */
static void assert_all_published(Env *e) {
        for (const char *const *image = registry_fixture_test_images(); *image; image++) {
                g_autofree char *url = manifest_url(e, *image), *expected = registry_fixture_test_manifest(*image);
                g_auto(Answer) a = {};

                http_get(e, url, NULL, &a);
                if (a.status != 200 || a.body->len != strlen(expected) || memcmp(a.body->data, expected, a.body->len) != 0)
                        check_failed("GET %s answered %ld with %u bytes, not the %zu published", url, a.status, a.body->len,
                                           strlen(expected));
        }
}

/* The first layer of a published image, fetched from the registry. */
static GBytes *fetch_first_layer(Env *e, const char *image) {
        g_autofree char *manifest = registry_fixture_test_manifest(image), *repo = g_strndup(image, strrchr(image, ':') - image);
        g_autofree char *path = NULL, *url = NULL;
        json_object *j = json_tokener_parse(manifest), *layers, *digest;
        g_auto(Answer) a = {};

        g_assert_true(json_object_object_get_ex(j, "layers", &layers));
        g_assert_true(json_object_object_get_ex(json_object_array_get_idx(layers, 0), "digest", &digest));
        path = g_strdup_printf("/v2/%s/blobs/%s", repo, json_object_get_string(digest));
        json_object_put(j);
        url = registry_url(e, path);
        http_get(e, url, NULL, &a);
        g_assert_cmpint(a.status, ==, 200);
        return g_bytes_new(a.body->data, a.body->len);
}

/* "type:name[->target]:size" of each entry, space-separated. */
static char *list_tar(GBytes *layer) {
        struct archive *ar = archive_read_new();
        struct archive_entry *entry;
        GString *out = g_string_new(NULL);

        archive_read_support_filter_all(ar);
        archive_read_support_format_tar(ar);
        g_assert_cmpint(archive_read_open_memory(ar, g_bytes_get_data(layer, NULL), g_bytes_get_size(layer)), ==, ARCHIVE_OK);
        while (archive_read_next_header(ar, &entry) == ARCHIVE_OK) {
                mode_t type = archive_entry_filetype(entry);
                g_string_append_printf(out, "%s%c:%s%s%s:%jd", out->len ? " " : "",
                                       type == AE_IFREG ? 'f' : type == AE_IFLNK ? 'l' : type == AE_IFCHR ? 'c' : '?',
                                       archive_entry_pathname(entry), archive_entry_symlink(entry) ? "->" : "",
                                       archive_entry_symlink(entry) ?: "", (intmax_t) archive_entry_size(entry));
        }
        archive_read_free(ar);
        return g_string_free(out, FALSE);
}

static void assert_layer(Env *e, const char *image, bool gzip, const char *expected) {
        g_autoptr(GBytes) layer = fetch_first_layer(e, image);
        const guint8 *p = g_bytes_get_data(layer, NULL);
        bool is_gzip = g_bytes_get_size(layer) > 2 && p[0] == 0x1f && p[1] == 0x8b;
        g_autofree char *listing = list_tar(layer);

        if (is_gzip != gzip || !g_str_equal(listing, expected))
                check_failed("%s: layer %s gzip, holds '%s'; expected %s gzip, '%s'", image, is_gzip ? "is" : "is not",
                                   listing, gzip ? "" : "not", expected);
}

static void assert_hostile_layers(Env *e) {
        g_autofree char *object = fixture_build_path("bpf/xdp-counter.bpf.o");
        struct stat st;

        g_assert_cmpint(stat(object, &st), ==, 0);
#define F(name) "f:" name ":%jd"
        {
                g_autofree char *traversal = g_strdup_printf(F("../../evil.o"), (intmax_t) st.st_size);
                g_autofree char *absolute = g_strdup_printf(F("/etc/evil.o"), (intmax_t) st.st_size);
                g_autofree char *plain = g_strdup_printf(F("xdp-counter.bpf.o"), (intmax_t) st.st_size);
                g_autofree char *two = g_strdup_printf(F("xdp-counter.bpf.o") " " F("second.bpf.o"), (intmax_t) st.st_size,
                                                      (intmax_t) st.st_size);
                g_autofree char *big = g_strdup_printf(F("big.bpf.o"), (intmax_t) st.st_size + (1 << 20));

                assert_layer(e, "bpfman/xdp-counter:v1", true, plain);
                assert_layer(e, "hostile/traversal:v1", true, traversal);
                assert_layer(e, "hostile/absolute:v1", true, absolute);
                assert_layer(e, "hostile/symlink:v1", true, "l:x.o->/etc/passwd:0");
                assert_layer(e, "hostile/device:v1", true, "c:null.o:0");
                assert_layer(e, "hostile/oversize:v1", true, "f:oversize.bpf.o:68157440");
                assert_layer(e, "hostile/notgzip:v1", false, plain);
                assert_layer(e, "hostile/twofiles:v1", true, two);
                assert_layer(e, "bench/big:v1", true, big);
        }
#undef F
}

/* registry_fixture_blob_path() names the file the registry serves. */
static void assert_blob_path(Env *e, const char *image) {
        g_autoptr(GBytes) layer = fetch_first_layer(e, image);
        g_autofree char *hex = g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, layer);
        g_autofree char *digest = g_strdup_printf("sha256:%s", hex), *path = registry_fixture_blob_path(&e->reg, digest);
        g_autofree char *stored = NULL;
        gsize size = 0;

        if (!g_file_get_contents(path, &stored, &size, NULL) || size != g_bytes_get_size(layer) ||
            memcmp(stored, g_bytes_get_data(layer, NULL), size) != 0)
                check_failed("%s: registry_fixture_blob_path() gave %s, which does not hold the layer %s", image, path, digest);
}

static void test_plain(void) {
        g_autofree char *v2 = NULL;
        Env e;

        if (!env_start(&e, REGISTRY_PLAIN))
                return env_stop(&e);
        assert_skopeo_reads(&e, "bpfman/xdp-counter:v1");
        assert_skopeo_reads(&e, "bpfman/multi:v1");
        assert_skopeo_reads(&e, "bumblebee/xdp-counter:v1");
        assert_all_published(&e);
        assert_hostile_layers(&e);
        assert_blob_path(&e, "bpfman/xdp-counter:v1");

        /* Paused: nothing answers; resumed: the same content on the same port. */
        v2 = registry_url(&e, "/v2/");
        g_assert_true(registry_fixture_pause(&e.reg));
        {
                g_auto(Answer) a = {};
                http_get(&e, v2, NULL, &a);
                g_assert_cmpint(a.status, ==, 0);
        }
        g_assert_true(registry_fixture_resume(&e.reg));
        assert_skopeo_reads(&e, "bpfman/xdp-counter:v1");
        env_stop(&e);
}

static void test_tls_basic(void) {
        Env e;

        if (!env_start(&e, REGISTRY_TLS_BASIC))
                return env_stop(&e);
        assert_skopeo_reads(&e, "bpfman/xdp-counter:v1");
        assert_challenge(&e, "www-authenticate: basic realm=");
        env_stop(&e);
}

static void test_tls_token(void) {
        g_autofree char *expected = NULL, *token_url = NULL, *wrong = NULL, *right = NULL;
        Env e;

        if (!env_start(&e, REGISTRY_TLS_TOKEN))
                return env_stop(&e);
        assert_skopeo_reads(&e, "bpfman/xdp-counter:v1");
        assert_skopeo_reads(&e, "bpfman/multi:v1");
        expected = g_strdup_printf("www-authenticate: bearer realm=\"http://%s/token\"", e.reg.token_host);
        assert_challenge(&e, expected);

        /* The token server itself wants the right credentials. */
        token_url = g_strdup_printf("http://%s/token?service=bpfhub-test-registry&scope=repository:bpfman/xdp-counter:pull",
                                    e.reg.token_host);
        wrong = g_strdup_printf("%s:wrong", e.reg.username);
        right = g_strdup_printf("%s:%s", e.reg.username, e.reg.password);
        {
                g_auto(Answer) anonymous = {}, refused = {}, granted = {};
                http_get(&e, token_url, NULL, &anonymous);
                http_get(&e, token_url, wrong, &refused);
                http_get(&e, token_url, right, &granted);
                g_assert_cmpint(anonymous.status, ==, 401);
                g_assert_cmpint(refused.status, ==, 401);
                g_assert_cmpint(granted.status, ==, 200);
        }
        env_stop(&e);
}

static void test_oci_layout(void) {
        g_autofree char *scratch = NULL, *layout = NULL, *ref = NULL, *expected = NULL;

        if (!fixture_require_root() || !fixture_require_program("skopeo"))
                return;
        scratch = fixture_scratch_new("registry-layout");
        layout = g_build_filename(scratch, "layout", NULL);
        g_assert_true(registry_fixture_write_oci_layout(layout, "v1"));
        ref = g_strdup_printf("oci:%s:v1", layout);
        expected = registry_fixture_test_manifest("bpfman/xdp-counter:v1");
        assert_skopeo_raw("", ref, expected);
        fixture_scratch_free(g_steal_pointer(&scratch));
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/registry-fixture/plain", test_plain);
        g_test_add_func("/registry-fixture/tls-basic", test_tls_basic);
        g_test_add_func("/registry-fixture/tls-token", test_tls_token);
        g_test_add_func("/registry-fixture/oci-layout", test_oci_layout);
        return g_test_run();
}
