/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The pure parts of image handling: references, manifests, indexes, image
 * configs and labels, auth challenges and auth files. */
#include <glib.h>

#include "image-ref.h"
#include "oci.h"
#include "registry-auth.h"

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define D3 "sha256:3333333333333333333333333333333333333333333333333333333333333333"

static void assert_ref(const char *in, const char *domain, const char *path, const char *tag, const char *digest,
                       const char *canonical) {
        ImageRef *r = NULL;
        ErrorInfo e;
        char *s;

        if (image_ref_parse(in, &r, &e) < 0)
                g_error("'%s' did not parse: %s", in, e.message);
        g_assert_cmpstr(r->domain, ==, domain);
        g_assert_cmpstr(r->path, ==, path);
        g_assert_cmpstr(r->tag, ==, tag);
        g_assert_cmpstr(r->digest, ==, digest);
        s = image_ref_to_string(r);
        g_assert_cmpstr(s, ==, canonical);
        free(s);
        image_ref_free(r);
}

static void assert_ref_invalid(const char *in, const char *message_part) {
        ImageRef *r = NULL;
        ErrorInfo e = {};

        g_assert_cmpint(image_ref_parse(in, &r, &e), ==, -EINVAL);
        g_assert_null(r);
        g_assert_null(e.bus_error);     /* InvalidArgs */
        if (!strstr(e.message, message_part))
                g_error("'%s': message '%s' does not mention '%s'", in, e.message, message_part);
}

static void test_image_ref(void) {
        assert_ref("quay.io/bpfman-bytecode/xdp_pass:latest", "quay.io", "bpfman-bytecode/xdp_pass", "latest", NULL,
                   "quay.io/bpfman-bytecode/xdp_pass:latest");
        assert_ref("quay.io/bpfman-bytecode/xdp_pass", "quay.io", "bpfman-bytecode/xdp_pass", "latest", NULL,
                   "quay.io/bpfman-bytecode/xdp_pass:latest");
        assert_ref("127.0.0.1:5000/a/b:v1", "127.0.0.1:5000", "a/b", "v1", NULL, "127.0.0.1:5000/a/b:v1");
        assert_ref("localhost/x", "localhost", "x", "latest", NULL, "localhost/x:latest");
        assert_ref("busybox", "docker.io", "library/busybox", "latest", NULL, "docker.io/library/busybox:latest");
        assert_ref("org/img:1.0", "docker.io", "org/img", "1.0", NULL, "docker.io/org/img:1.0");
        assert_ref("r.io/a@" D1, "r.io", "a", NULL, D1, "r.io/a@" D1);
        assert_ref("r.io/a:t@" D1, "r.io", "a", "t", D1, "r.io/a:t@" D1);
        assert_ref("r.io/a__b/c-d.e--f:T_1.x-y", "r.io", "a__b/c-d.e--f", "T_1.x-y", NULL, "r.io/a__b/c-d.e--f:T_1.x-y");

        assert_ref_invalid("", "empty");
        assert_ref_invalid("https://quay.io/a", "URL");
        assert_ref_invalid("quay.io/A/b", "repository name");
        assert_ref_invalid("quay.io/a//b", "repository name");
        assert_ref_invalid("quay.io/a/", "repository name");
        assert_ref_invalid("quay.io/a_-b", "repository name");
        assert_ref_invalid("quay.io/a:-tag", "tag");
        assert_ref_invalid("quay.io/a:", "tag");
        assert_ref_invalid("quay.io/a@sha256:abc", "digest");
        assert_ref_invalid("quay.io/a@sha512:" "11111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111", "digest");
        assert_ref_invalid("quay.io/a b", "space");
        assert_ref_invalid("quay.io/a\x01", "control");
        assert_ref_invalid("quay.io/\xc3\xa9", "non-ASCII");
        assert_ref_invalid("bad_host.io:99999/a", "registry host");
        assert_ref_invalid("-bad.io/a", "registry host");

        g_autofree char *long_tag = g_strnfill(129, 'a');
        g_autofree char *ref = g_strdup_printf("r.io/a:%s", long_tag);
        assert_ref_invalid(ref, "tag");
        g_autofree char *long_path = g_strnfill(260, 'a');
        g_autofree char *ref2 = g_strdup_printf("r.io/%s", long_path);
        assert_ref_invalid(ref2, "longer than");
        g_autofree char *huge = g_strnfill(2000, 'a');
        assert_ref_invalid(huge, "at most");

        g_assert_cmpint(image_source_kind("/x.o"), ==, IMAGE_SOURCE_FILE);
        g_assert_cmpint(image_source_kind("oci:/d:t"), ==, IMAGE_SOURCE_OCI_LAYOUT);
        g_assert_cmpint(image_source_kind("quay.io/a"), ==, IMAGE_SOURCE_REGISTRY);
}

static void test_oci_layout_source(void) {
        g_autofree char *dir = NULL, *tag = NULL;
        ErrorInfo e;

        g_assert_cmpint(oci_layout_source_parse("oci:/srv/layout:v1", &dir, &tag, &e), ==, 0);
        g_assert_cmpstr(dir, ==, "/srv/layout");
        g_assert_cmpstr(tag, ==, "v1");
        g_clear_pointer(&dir, free);
        g_clear_pointer(&tag, free);
        g_assert_cmpint(oci_layout_source_parse("oci:/srv/layout", &dir, &tag, &e), ==, 0);
        g_assert_cmpstr(tag, ==, "latest");
        g_clear_pointer(&dir, free);
        g_clear_pointer(&tag, free);
        g_assert_cmpint(oci_layout_source_parse("oci:relative:v1", &dir, &tag, &e), ==, -EINVAL);
        g_assert_cmpint(oci_layout_source_parse("oci:/srv:", &dir, &tag, &e), ==, -EINVAL);
        g_assert_cmpint(oci_layout_source_parse("oci:/srv:a/b", &dir, &tag, &e), ==, -EINVAL);
}

static OciManifest *parse_ok(const char *json, const char *content_type) {
        OciManifest *m = NULL;
        ErrorInfo e;

        if (oci_manifest_parse(json, strlen(json), content_type, &m, &e) < 0)
                g_error("manifest did not parse: %s\n%s", e.message, json);
        return m;
}

static void parse_bad(const char *json, int error, const char *bus_error, const char *message_part) {
        OciManifest *m = NULL;
        ErrorInfo e = {};

        g_assert_cmpint(oci_manifest_parse(json, strlen(json), NULL, &m, &e), ==, error);
        g_assert_null(m);
        g_assert_cmpstr(e.bus_error, ==, bus_error);
        if (!strstr(e.message, message_part))
                g_error("message '%s' does not mention '%s' for %s", e.message, message_part, json);
}

#define MANIFEST(config_type, layers) \
        "{\"schemaVersion\":2,\"mediaType\":\"" OCI_MEDIA_MANIFEST "\",\"config\":{\"mediaType\":\"" config_type \
        "\",\"digest\":\"" D1 "\",\"size\":10},\"layers\":[" layers "]}"
#define LAYER(type, digest, size) "{\"mediaType\":\"" type "\",\"digest\":\"" digest "\",\"size\":" #size "}"

static void test_manifest(void) {
        g_autoptr(GError) error = NULL;
        OciManifest *m;
        const OciDescriptor *layer;
        ImageFormat format;
        ErrorInfo e;

        m = parse_ok(MANIFEST(OCI_MEDIA_CONFIG, LAYER(OCI_MEDIA_LAYER_TAR_GZIP, D2, 1234)), NULL);
        g_assert_cmpint(m->kind, ==, OCI_KIND_MANIFEST);
        g_assert_cmpstr(m->config.digest, ==, D1);
        g_assert_cmpuint(m->n_layers, ==, 1);
        g_assert_cmpuint(m->layers[0].size, ==, 1234);
        g_assert_cmpint(oci_manifest_bytecode_layer(m, &format, &layer, &e), ==, 0);
        g_assert_cmpint(format, ==, IMAGE_FORMAT_BPFMAN);
        g_assert_cmpstr(layer->digest, ==, D2);
        oci_manifest_free(m);

        /* docker media types; mediaType from the HTTP header when the body has none */
        m = parse_ok("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" DOCKER_MEDIA_CONFIG "\",\"digest\":\"" D1
                     "\",\"size\":3},\"layers\":[" LAYER(DOCKER_MEDIA_LAYER_TAR_GZIP, D2, 5) "]}",
                     DOCKER_MEDIA_MANIFEST);
        g_assert_cmpstr(m->media_type, ==, DOCKER_MEDIA_MANIFEST);
        g_assert_cmpint(oci_manifest_bytecode_layer(m, &format, &layer, &e), ==, 0);
        oci_manifest_free(m);

        /* bumblebee */
        m = parse_ok(MANIFEST(BUMBLEBEE_MEDIA_CONFIG, LAYER(BUMBLEBEE_MEDIA_PROGRAM, D2, 99)), NULL);
        g_assert_cmpint(oci_manifest_bytecode_layer(m, &format, &layer, &e), ==, 0);
        g_assert_cmpint(format, ==, IMAGE_FORMAT_BUMBLEBEE);
        oci_manifest_free(m);

        /* format errors */
        m = parse_ok(MANIFEST(OCI_MEDIA_CONFIG, LAYER(OCI_MEDIA_LAYER_TAR_GZIP, D2, 1) "," LAYER(OCI_MEDIA_LAYER_TAR_GZIP, D3, 1)), NULL);
        g_assert_cmpint(oci_manifest_bytecode_layer(m, &format, &layer, &e), ==, -EBADMSG);
        g_assert_nonnull(strstr(e.message, "2 layers"));
        oci_manifest_free(m);
        m = parse_ok(MANIFEST(OCI_MEDIA_CONFIG, LAYER("application/vnd.oci.image.layer.v1.tar+zstd", D2, 1)), NULL);
        g_assert_cmpint(oci_manifest_bytecode_layer(m, &format, &layer, &e), ==, -EMEDIUMTYPE);
        oci_manifest_free(m);
        m = parse_ok(MANIFEST("application/vnd.cncf.helm.config.v1+json", LAYER(OCI_MEDIA_LAYER_TAR_GZIP, D2, 1)), NULL);
        g_assert_cmpint(oci_manifest_bytecode_layer(m, &format, &layer, &e), ==, -EMEDIUMTYPE);
        oci_manifest_free(m);

        /* hostile and malformed documents */
        parse_bad("", -EBADMSG, BUS_ERROR_INVALID_BYTECODE, "not valid JSON");
        parse_bad("[1,2]", -EBADMSG, BUS_ERROR_INVALID_BYTECODE, "not a JSON object");
        parse_bad("{\"schemaVersion\":1}", -EBADMSG, BUS_ERROR_INVALID_BYTECODE, "schema 1");
        parse_bad("{\"schemaVersion\":2,\"mediaType\":\"text/html\"}", -EMEDIUMTYPE, BUS_ERROR_INVALID_BYTECODE, "text/html");
        parse_bad("{\"schemaVersion\":2,\"mediaType\":\"" OCI_MEDIA_MANIFEST "\"}", -EBADMSG, BUS_ERROR_INVALID_BYTECODE, "no config");
        parse_bad(MANIFEST(OCI_MEDIA_CONFIG, "{\"mediaType\":\"x\",\"digest\":\"md5:abc\",\"size\":1}"), -EBADMSG,
                  BUS_ERROR_INVALID_BYTECODE, "not a sha256 digest");
        parse_bad(MANIFEST(OCI_MEDIA_CONFIG, "{\"mediaType\":\"x\",\"digest\":\"" D2 "\",\"size\":-1}"), -EBADMSG,
                  BUS_ERROR_INVALID_BYTECODE, "negative size");
        parse_bad(MANIFEST(OCI_MEDIA_CONFIG, "{\"mediaType\":\"x\",\"digest\":\"" D2 "\",\"size\":\"1\"}"), -EBADMSG,
                  BUS_ERROR_INVALID_BYTECODE, "integer size");
        parse_bad(MANIFEST(OCI_MEDIA_CONFIG, "{\"mediaType\":\"x\",\"digest\":\"" D2 "\",\"size\":1}") "trailing", -EBADMSG,
                  BUS_ERROR_INVALID_BYTECODE, "not valid JSON");
        parse_bad("{\"schemaVersion\":2,\"mediaType\":\"" OCI_MEDIA_MANIFEST "\",\"config\":{\"mediaType\":\"" OCI_MEDIA_CONFIG
                  "\",\"digest\":\"" D1 "\",\"size\":99999999999},\"layers\":[]}", -E2BIG, BUS_ERROR_LIMITS_EXCEEDED, "config");

        /* deep nesting, many layers, oversize */
        GString *deep = g_string_new("{\"schemaVersion\":2,\"x\":");
        for (int i = 0; i < 100; i++)
                g_string_append(deep, "[");
        for (int i = 0; i < 100; i++)
                g_string_append(deep, "]");
        g_string_append(deep, "}");
        parse_bad(deep->str, -EBADMSG, BUS_ERROR_INVALID_BYTECODE, "JSON");
        g_string_free(deep, TRUE);

        GString *many = g_string_new(MANIFEST(OCI_MEDIA_CONFIG, ""));
        g_string_truncate(many, many->len - 2);
        for (int i = 0; i < OCI_LAYERS_MAX + 1; i++)
                g_string_append_printf(many, "%s" LAYER(OCI_MEDIA_LAYER_TAR_GZIP, D2, 1), i ? "," : "");
        g_string_append(many, "]}");
        parse_bad(many->str, -E2BIG, BUS_ERROR_LIMITS_EXCEEDED, "layers");
        g_string_free(many, TRUE);

        {
                size_t size = OCI_MANIFEST_SIZE_MAX + 1;
                char *big = g_malloc(size);
                OciManifest *mm = NULL;
                memset(big, ' ', size);
                g_assert_cmpint(oci_manifest_parse(big, size, NULL, &mm, &e), ==, -E2BIG);
                g_assert_cmpstr(e.bus_error, ==, BUS_ERROR_LIMITS_EXCEEDED);
                g_free(big);
        }
        {
                static const char nul[] = "{\"schemaVersion\":2}\0{}";
                OciManifest *mm = NULL;
                g_assert_cmpint(oci_manifest_parse(nul, sizeof nul - 1, NULL, &mm, &e), ==, -EBADMSG);
        }
}

#define INDEX_ENTRY(arch, digest) \
        "{\"mediaType\":\"" OCI_MEDIA_MANIFEST "\",\"digest\":\"" digest "\",\"size\":100,\"platform\":{\"architecture\":\"" arch "\",\"os\":\"linux\"}}"

static void test_index(void) {
        OciManifest *m;
        const OciDescriptor *d;
        ErrorInfo e;

        m = parse_ok("{\"schemaVersion\":2,\"mediaType\":\"" OCI_MEDIA_INDEX "\",\"manifests\":[" INDEX_ENTRY("arm64", D1) ","
                     INDEX_ENTRY("amd64", D2) "," INDEX_ENTRY("s390x", D3) "]}", NULL);
        g_assert_cmpint(m->kind, ==, OCI_KIND_INDEX);
        g_assert_cmpint(oci_index_select(m, "amd64", &d, &e), ==, 0);
        g_assert_cmpstr(d->digest, ==, D2);
        g_assert_cmpint(oci_index_select(m, "s390x", &d, &e), ==, 0);
        g_assert_cmpstr(d->digest, ==, D3);
        g_assert_cmpint(oci_index_select(m, "riscv64", &d, &e), ==, -ENOENT);
        g_assert_cmpstr(e.bus_error, ==, BUS_ERROR_NO_SUCH_IMAGE);
        g_assert_nonnull(strstr(e.message, "linux/arm64, linux/amd64, linux/s390x"));
        oci_manifest_free(m);

        /* no mediaType anywhere: the shape says index */
        m = parse_ok("{\"schemaVersion\":2,\"manifests\":[]}", NULL);
        g_assert_cmpint(m->kind, ==, OCI_KIND_INDEX);
        g_assert_cmpint(oci_index_select(m, "amd64", &d, &e), ==, -ENOENT);
        g_assert_nonnull(strstr(e.message, "no entries"));
        oci_manifest_free(m);

        g_assert_nonnull(oci_host_arch());
#if defined(__x86_64__)
        g_assert_cmpstr(oci_host_arch(), ==, "amd64");
#endif
}

static ImageConfig *config_ok(const char *json) {
        ImageConfig *c = NULL;
        ErrorInfo e;

        if (image_config_parse(json, strlen(json), &c, &e) < 0)
                g_error("config did not parse: %s\n%s", e.message, json);
        return c;
}

static void test_config_labels(void) {
        ImageConfig *c;
        ErrorInfo e;

        c = config_ok("{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Labels\":{"
                      "\"io.ebpf.programs\":\"{\\\"xdp_stats\\\":\\\"xdp\\\",\\\"tc_stats\\\":\\\"tc\\\"}\","
                      "\"io.ebpf.maps\":\"{\\\"xdp_stats_map\\\":\\\"per_cpu_array\\\"}\"}}}");
        g_assert_cmpstr(c->architecture, ==, "amd64");
        g_assert_cmpuint(g_strv_length(c->programs), ==, 4);
        g_assert_false(c->legacy_labels);
        g_assert_cmpint(image_config_check_programs(c, (char *[]) { "xdp_stats", "tc_stats", NULL }, &e), ==, 0);
        g_assert_cmpint(image_config_check_programs(c, (char *[]) { "nope", NULL }, &e), ==, -ENOENT);
        g_assert_nonnull(strstr(e.message, "xdp_stats"));
        g_assert_cmpuint(g_strv_length(c->maps), ==, 2);
        image_config_free(c);

        /* legacy v1 labels */
        c = config_ok("{\"config\":{\"Labels\":{\"io.ebpf.bpf_function_name\":\"pass\",\"io.ebpf.program_type\":\"xdp\","
                      "\"io.ebpf.filename\":\"pass.bpf.o\",\"io.ebpf.program_name\":\"xdp_pass\"}}}");
        g_assert_true(c->legacy_labels);
        g_assert_cmpstr(c->programs[0], ==, "pass");
        g_assert_cmpstr(c->programs[1], ==, "xdp");
        g_assert_cmpint(image_config_check_programs(c, (char *[]) { "pass", NULL }, &e), ==, 0);
        image_config_free(c);

        /* bumblebee's empty config and a config without labels accept any name */
        c = config_ok("{}");
        g_assert_null(c->programs);
        g_assert_cmpint(image_config_check_programs(c, (char *[]) { "anything", NULL }, &e), ==, 0);
        image_config_free(c);

        /* hostile labels */
        static const char *const bad[] = {
                "{\"config\":{\"Labels\":{\"io.ebpf.programs\":\"not json\"}}}",
                "{\"config\":{\"Labels\":{\"io.ebpf.programs\":\"[1]\"}}}",
                "{\"config\":{\"Labels\":{\"io.ebpf.programs\":\"{\\\"a\\\":1}\"}}}",
                "{\"config\":{\"Labels\":{\"io.ebpf.maps\":\"{\\\"a\\\":{}}\"}}}",
                "{\"config\":{\"Labels\":{\"x\":1}}}",
                "{\"config\":{\"Labels\":[]}}",
                "{\"config\":[]}",
                "{\"architecture\":7}",
        };
        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                ImageConfig *cc = NULL;
                g_assert_cmpint(image_config_parse(bad[i], strlen(bad[i]), &cc, &e), ==, -EBADMSG);
                g_assert_cmpstr(e.bus_error, ==, BUS_ERROR_INVALID_BYTECODE);
                g_assert_null(cc);
        }

        GString *many = g_string_new("{\"config\":{\"Labels\":{");
        for (int i = 0; i <= IMAGE_LABELS_MAX; i++)
                g_string_append_printf(many, "%s\"l%d\":\"v\"", i ? "," : "", i);
        g_string_append(many, "}}}");
        ImageConfig *cc = NULL;
        g_assert_cmpint(image_config_parse(many->str, many->len, &cc, &e), ==, -E2BIG);
        g_assert_cmpstr(e.bus_error, ==, BUS_ERROR_LIMITS_EXCEEDED);
        g_string_free(many, TRUE);
}

static void test_auth_challenge(void) {
        AuthChallenge c = {};

        g_assert_cmpint(auth_challenge_parse("Bearer realm=\"https://auth.example/token\",service=\"registry.example\","
                                             "scope=\"repository:a/b:pull\"", &c), ==, 0);
        g_assert_cmpint(c.scheme, ==, AUTH_SCHEME_BEARER);
        g_assert_cmpstr(c.realm, ==, "https://auth.example/token");
        g_assert_cmpstr(c.service, ==, "registry.example");
        g_assert_cmpstr(c.scope, ==, "repository:a/b:pull");
        auth_challenge_done(&c);

        g_assert_cmpint(auth_challenge_parse("bearer realm=\"http://127.0.0.1:1/t\"", &c), ==, 0);
        g_assert_null(c.service);
        auth_challenge_done(&c);

        g_assert_cmpint(auth_challenge_parse("Basic realm=\"Registry Realm\"", &c), ==, 0);
        g_assert_cmpint(c.scheme, ==, AUTH_SCHEME_BASIC);
        g_assert_cmpstr(c.realm, ==, "Registry Realm");
        auth_challenge_done(&c);

        g_assert_cmpint(auth_challenge_parse("Bearer realm=\"a\\\"b\", service=svc", &c), ==, 0);
        g_assert_cmpstr(c.realm, ==, "a\"b");
        g_assert_cmpstr(c.service, ==, "svc");
        auth_challenge_done(&c);

        g_assert_cmpint(auth_challenge_parse("Negotiate abc", &c), ==, -EOPNOTSUPP);
        g_assert_cmpint(auth_challenge_parse("Bearer service=\"x\"", &c), ==, -EINVAL);
        g_assert_cmpint(auth_challenge_parse("Bearer realm=\"unterminated", &c), ==, -EINVAL);
        g_assert_cmpint(auth_challenge_parse("Bearer =x", &c), ==, -EINVAL);
}

static void test_auth_file(void) {
        static const char file[] =
                "{\"auths\":{"
                "\"quay.io\":{\"auth\":\"dXNlcjpwYXNz\"},"                          /* user:pass */
                "\"quay.io/org\":{\"auth\":\"b3JnOm9yZ3Bhc3M=\"},"                  /* org:orgpass */
                "\"https://index.docker.io/v1/\":{\"auth\":\"aHViOmh1YnBhc3M=\"},"  /* hub:hubpass */
                "\"127.0.0.1:5000\":{\"auth\":\"bm9jb2xvbg==\"}}}";                 /* nocolon */
        RegistryCredentials c;
        ErrorInfo e;

        g_assert_cmpint(registry_auth_file_lookup(file, strlen(file), "quay.io", "other/repo", &c), ==, 0);
        g_assert_cmpstr(c.username, ==, "user");
        g_assert_cmpstr(c.password, ==, "pass");
        registry_credentials_done(&c);
        g_assert_cmpint(registry_auth_file_lookup(file, strlen(file), "quay.io", "org/repo", &c), ==, 0);
        g_assert_cmpstr(c.username, ==, "org");
        registry_credentials_done(&c);
        g_assert_cmpint(registry_auth_file_lookup(file, strlen(file), "quay.io", "organic/repo", &c), ==, 0);
        g_assert_cmpstr(c.username, ==, "user");
        registry_credentials_done(&c);
        g_assert_cmpint(registry_auth_file_lookup(file, strlen(file), "registry-1.docker.io", "library/x", &c), ==, 0);
        g_assert_cmpstr(c.username, ==, "hub");
        registry_credentials_done(&c);
        g_assert_cmpint(registry_auth_file_lookup(file, strlen(file), "ghcr.io", "a", &c), ==, -ENOENT);
        g_assert_cmpint(registry_auth_file_lookup(file, strlen(file), "127.0.0.1:5000", "a", &c), ==, -EBADMSG);
        g_assert_cmpint(registry_auth_file_lookup("nope", 4, "quay.io", "a", &c), ==, -EBADMSG);
        g_assert_cmpint(registry_auth_file_lookup("{}", 2, "quay.io", "a", &c), ==, -ENOENT);

        g_assert_cmpint(registry_credentials_from_base64("dXNlcjpwOmFzcw==", &c, &e), ==, 0);  /* user:p:ass */
        g_assert_cmpstr(c.password, ==, "p:ass");
        registry_credentials_done(&c);
        g_assert_cmpint(registry_credentials_from_base64("!!!", &c, &e), ==, -EINVAL);
        g_assert_cmpint(registry_credentials_from_base64("OnBhc3M=", &c, &e), ==, -EINVAL);     /* ":pass" */
        g_assert_null(c.username);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/oci/image-ref", test_image_ref);
        g_test_add_func("/oci/layout-source", test_oci_layout_source);
        g_test_add_func("/oci/manifest", test_manifest);
        g_test_add_func("/oci/index", test_index);
        g_test_add_func("/oci/config-labels", test_config_labels);
        g_test_add_func("/oci/auth-challenge", test_auth_challenge);
        g_test_add_func("/oci/auth-file", test_auth_file);
        return g_test_run();
}
