/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <json-c/json.h>
#include <sys/utsname.h>

#include "image-ref.h"
#include "json-util.h"
#include "oci.h"

/* Manifests and configs nest a few levels; anything deeper is hostile. */
#define OCI_JSON_DEPTH_MAX 16

void oci_descriptor_done(OciDescriptor *d) {
        d->media_type = mfree(d->media_type);
        d->digest = mfree(d->digest);
        d->architecture = mfree(d->architecture);
        d->os = mfree(d->os);
        d->variant = mfree(d->variant);
}

OciManifest *oci_manifest_free(OciManifest *m) {
        if (!m)
                return NULL;
        free(m->media_type);
        oci_descriptor_done(&m->config);
        for (size_t i = 0; i < m->n_layers; i++)
                oci_descriptor_done(&m->layers[i]);
        free(m->layers);
        for (size_t i = 0; i < m->n_manifests; i++)
                oci_descriptor_done(&m->manifests[i]);
        free(m->manifests);
        free(m);
        return NULL;
}

bool oci_media_type_is_index(const char *t) {
        return t && (streq(t, OCI_MEDIA_INDEX) || streq(t, DOCKER_MEDIA_INDEX));
}

bool oci_media_type_is_manifest(const char *t) {
        return t && (streq(t, OCI_MEDIA_MANIFEST) || streq(t, DOCKER_MEDIA_MANIFEST));
}

static int parse_json(const void *data, size_t size, size_t max, const char *what, json_object **ret, ErrorInfo *error) {
        json_tokener *tok;
        json_object *j;

        if (size > max)
                return error_info_set(error, E2BIG, BUS_ERROR_LIMITS_EXCEEDED,
                                      "The %s is %zu bytes; at most %zu are accepted.", what, size, max);
        if (memchr(data, '\0', size))
                return error_info_set(error, EBADMSG, BUS_ERROR_INVALID_BYTECODE, "The %s contains a NUL byte.", what);

        tok = json_tokener_new_ex(OCI_JSON_DEPTH_MAX);
        if (!tok)
                return error_info_set(error, ENOMEM, NULL, "Out of memory.");
        j = json_tokener_parse_ex(tok, data, (int) size);
        if (!j || json_tokener_get_error(tok) != json_tokener_success ||
            json_tokener_get_parse_end(tok) < size) {
                enum json_tokener_error e = json_tokener_get_error(tok);
                json_tokener_free(tok);
                json_object_put(j);
                return error_info_set(error, EBADMSG, BUS_ERROR_INVALID_BYTECODE, "The %s is not valid JSON: %s.", what,
                                      e == json_tokener_success ? "trailing data or incomplete document"
                                                                : json_tokener_error_desc(e));
        }
        json_tokener_free(tok);
        if (!json_object_is_type(j, json_type_object)) {
                json_object_put(j);
                return error_info_set(error, EBADMSG, BUS_ERROR_INVALID_BYTECODE, "The %s is not a JSON object.", what);
        }
        *ret = j;
        return 0;
}

/* An optional string member; -EBADMSG when present with another type. */
static int get_string(json_object *j, const char *key, const char **ret) {
        json_object *v;

        *ret = NULL;
        if (!json_object_object_get_ex(j, key, &v) || !v)
                return 0;
        if (!json_object_is_type(v, json_type_string))
                return -EBADMSG;
        *ret = json_object_get_string(v);
        return 0;
}

static int dup_string(json_object *j, const char *key, char **ret) {
        const char *s;

        if (get_string(j, key, &s) < 0)
                return -EBADMSG;
        if (!s)
                return 0;
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

static int parse_descriptor(json_object *j, const char *what, OciDescriptor *d, ErrorInfo *error) {
        json_object *size, *platform;
        const char *digest;
        int64_t n;

        if (!json_object_is_type(j, json_type_object))
                return error_info_set(error, EBADMSG, BUS_ERROR_INVALID_BYTECODE, "The %s descriptor is not an object.", what);
        if (dup_string(j, "mediaType", &d->media_type) < 0 || !d->media_type)
                return error_info_set(error, EBADMSG, BUS_ERROR_INVALID_BYTECODE, "The %s descriptor has no mediaType.", what);
        if (get_string(j, "digest", &digest) < 0 || !digest)
                return error_info_set(error, EBADMSG, BUS_ERROR_INVALID_BYTECODE, "The %s descriptor has no digest.", what);
        if (!digest_is_valid(digest))
                return error_info_set(error, EBADMSG, BUS_ERROR_INVALID_BYTECODE,
                                      "The %s descriptor's digest '%.80s' is not a sha256 digest.", what, digest);
        d->digest = strdup(digest);
        if (!d->digest)
                return error_info_set(error, ENOMEM, NULL, "Out of memory.");
        if (!json_object_object_get_ex(j, "size", &size) || !json_object_is_type(size, json_type_int))
                return error_info_set(error, EBADMSG, BUS_ERROR_INVALID_BYTECODE, "The %s descriptor has no integer size.", what);
        n = json_object_get_int64(size);
        if (n < 0)
                return error_info_set(error, EBADMSG, BUS_ERROR_INVALID_BYTECODE, "The %s descriptor has a negative size.", what);
        d->size = (uint64_t) n;

        if (json_object_object_get_ex(j, "platform", &platform) && platform) {
                if (!json_object_is_type(platform, json_type_object) ||
                    dup_string(platform, "architecture", &d->architecture) < 0 ||
                    dup_string(platform, "os", &d->os) < 0 ||
                    dup_string(platform, "variant", &d->variant) < 0)
                        return error_info_set(error, EBADMSG, BUS_ERROR_INVALID_BYTECODE,
                                              "The %s descriptor's platform is malformed.", what);
        }
        return 0;
}

static int parse_descriptor_array(json_object *j, const char *key, size_t max, const char *what,
                                  OciDescriptor **ret, size_t *ret_n, ErrorInfo *error) {
        json_object *a;
        size_t n;
        int r;

        if (!json_object_object_get_ex(j, key, &a) || !json_object_is_type(a, json_type_array))
                return error_info_set(error, EBADMSG, BUS_ERROR_INVALID_BYTECODE, "The manifest has no '%s' array.", key);
        n = json_object_array_length(a);
        if (n > max)
                return error_info_set(error, E2BIG, BUS_ERROR_LIMITS_EXCEEDED,
                                      "The manifest lists %zu %s; at most %zu are accepted.", n, what, max);
        *ret = calloc(MAX(n, 1u), sizeof(OciDescriptor));
        if (!*ret)
                return error_info_set(error, ENOMEM, NULL, "Out of memory.");
        for (size_t i = 0; i < n; i++) {
                *ret_n = i + 1;
                r = parse_descriptor(json_object_array_get_idx(a, i), what, &(*ret)[i], error);
                if (r < 0)
                        return r;
        }
        *ret_n = n;
        return 0;
}

int oci_manifest_parse(const void *data, size_t size, const char *content_type, OciManifest **ret, ErrorInfo *error) {
        _cleanup_(oci_manifest_freep) OciManifest *m = NULL;
        _cleanup_json_ json_object *j = NULL;
        json_object *version, *config;
        const char *media_type;
        int r;

        r = parse_json(data, size, OCI_MANIFEST_SIZE_MAX, "manifest", &j, error);
        if (r < 0)
                return r;

        if (!json_object_object_get_ex(j, "schemaVersion", &version) || !json_object_is_type(version, json_type_int) ||
            json_object_get_int64(version) != 2)
                return error_info_set(error, EBADMSG, BUS_ERROR_INVALID_BYTECODE,
                                      "The manifest is not schemaVersion 2 (docker schema 1 is not supported).");
        if (get_string(j, "mediaType", &media_type) < 0)
                return error_info_set(error, EBADMSG, BUS_ERROR_INVALID_BYTECODE, "The manifest's mediaType is not a string.");
        if (!media_type && content_type && (oci_media_type_is_index(content_type) || oci_media_type_is_manifest(content_type)))
                media_type = content_type;
        if (!media_type)    /* OCI allows leaving it out: the shape tells. */
                media_type = json_object_object_get_ex(j, "manifests", NULL) ? OCI_MEDIA_INDEX : OCI_MEDIA_MANIFEST;

        m = calloc(1, sizeof(*m));
        if (!m || !(m->media_type = strdup(media_type)))
                return error_info_set(error, ENOMEM, NULL, "Out of memory.");

        if (oci_media_type_is_index(media_type)) {
                m->kind = OCI_KIND_INDEX;
                r = parse_descriptor_array(j, "manifests", OCI_INDEX_ENTRIES_MAX, "index entries", &m->manifests,
                                           &m->n_manifests, error);
                if (r < 0)
                        return r;
        } else if (oci_media_type_is_manifest(media_type)) {
                m->kind = OCI_KIND_MANIFEST;
                if (!json_object_object_get_ex(j, "config", &config))
                        return error_info_set(error, EBADMSG, BUS_ERROR_INVALID_BYTECODE, "The manifest has no config.");
                r = parse_descriptor(config, "config", &m->config, error);
                if (r < 0)
                        return r;
                if (m->config.size > OCI_CONFIG_SIZE_MAX)
                        return error_info_set(error, E2BIG, BUS_ERROR_LIMITS_EXCEEDED,
                                              "The image config is %" PRIu64 " bytes; at most %llu are accepted.",
                                              m->config.size, OCI_CONFIG_SIZE_MAX);
                r = parse_descriptor_array(j, "layers", OCI_LAYERS_MAX, "layers", &m->layers, &m->n_layers, error);
                if (r < 0)
                        return r;
        } else
                return error_info_set(error, EMEDIUMTYPE, BUS_ERROR_INVALID_BYTECODE,
                                      "'%.128s' is not a manifest or index media type bpfhub reads.", media_type);

        *ret = TAKE_PTR(m);
        return 0;
}

const char *oci_host_arch(void) {
        static const struct { const char *machine, *goarch; } table[] = {
                { "x86_64", "amd64" }, { "aarch64", "arm64" }, { "s390x", "s390x" },
                { "ppc64le", "ppc64le" }, { "ppc64", "ppc64" }, { "riscv64", "riscv64" },
                { "loongarch64", "loong64" }, { "i686", "386" }, { "i386", "386" },
                { "armv7l", "arm" }, { "armv6l", "arm" }, { "mips64", "mips64" }, { "mips", "mips" },
        };
        static char machine[65];
        struct utsname u;

        if (uname(&u) < 0)
                return "unknown";
        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (streq(u.machine, table[i].machine))
                        return table[i].goarch;
        snprintf(machine, sizeof machine, "%s", u.machine);
        return machine;
}

int oci_index_select(const OciManifest *index, const char *arch, const OciDescriptor **ret, ErrorInfo *error) {
        char have[256] = "";
        size_t used = 0;

        assert(index->kind == OCI_KIND_INDEX);

        for (size_t i = 0; i < index->n_manifests; i++) {
                const OciDescriptor *d = &index->manifests[i];
                if (streq_ptr(d->os, "linux") && streq_ptr(d->architecture, arch) &&
                    oci_media_type_is_manifest(d->media_type)) {
                        *ret = d;
                        return 0;
                }
                if (used < sizeof have - 1)
                        used += (size_t) snprintf(have + used, sizeof have - used, "%s%s/%s", used ? ", " : "",
                                                  d->os ?: "?", d->architecture ?: "?");
        }
        return error_info_set(error, ENOENT, BUS_ERROR_NO_SUCH_IMAGE,
                              "The image index has no linux/%s manifest; it has: %s.", arch,
                              index->n_manifests ? have : "no entries");
}

static const char *const image_format_table[_IMAGE_FORMAT_MAX] = {
        [IMAGE_FORMAT_BPFMAN] = "bpfman",
        [IMAGE_FORMAT_BUMBLEBEE] = "bumblebee",
};

const char *image_format_to_string(ImageFormat f) {
        return f >= 0 && f < _IMAGE_FORMAT_MAX ? image_format_table[f] : NULL;
}

static bool is_tar_layer(const char *t) {
        return streq(t, OCI_MEDIA_LAYER_TAR_GZIP) || streq(t, OCI_MEDIA_LAYER_TAR) || streq(t, DOCKER_MEDIA_LAYER_TAR_GZIP);
}

int oci_manifest_bytecode_layer(const OciManifest *m, ImageFormat *ret_format, const OciDescriptor **ret_layer,
                                ErrorInfo *error) {
        assert(m->kind == OCI_KIND_MANIFEST);

        if (streq(m->config.media_type, BUMBLEBEE_MEDIA_CONFIG)) {
                const OciDescriptor *found = NULL;
                for (size_t i = 0; i < m->n_layers; i++)
                        if (streq(m->layers[i].media_type, BUMBLEBEE_MEDIA_PROGRAM)) {
                                if (found)
                                        return error_info_set(error, EBADMSG, BUS_ERROR_INVALID_BYTECODE,
                                                              "The bumblebee artifact has more than one program layer.");
                                found = &m->layers[i];
                        }
                if (!found)
                        return error_info_set(error, EBADMSG, BUS_ERROR_INVALID_BYTECODE,
                                              "The bumblebee artifact has no " BUMBLEBEE_MEDIA_PROGRAM " layer.");
                *ret_format = IMAGE_FORMAT_BUMBLEBEE;
                *ret_layer = found;
                return 0;
        }

        if (!streq(m->config.media_type, OCI_MEDIA_CONFIG) && !streq(m->config.media_type, DOCKER_MEDIA_CONFIG))
                return error_info_set(error, EMEDIUMTYPE, BUS_ERROR_INVALID_BYTECODE,
                                      "The image config has media type '%.128s'; bpfhub reads OCI and docker image configs and bumblebee artifacts.",
                                      m->config.media_type);
        if (m->n_layers != 1)
                return error_info_set(error, EBADMSG, BUS_ERROR_INVALID_BYTECODE,
                                      "The image has %zu layers; a bytecode image has exactly one.", m->n_layers);
        if (!is_tar_layer(m->layers[0].media_type))
                return error_info_set(error, EMEDIUMTYPE, BUS_ERROR_INVALID_BYTECODE,
                                      "The image's layer has media type '%.128s'; a bytecode layer is a tar or tar+gzip layer.",
                                      m->layers[0].media_type);
        *ret_format = IMAGE_FORMAT_BPFMAN;
        *ret_layer = &m->layers[0];
        return 0;
}

ImageConfig *image_config_free(ImageConfig *c) {
        if (!c)
                return NULL;
        free(c->architecture);
        free(c->os);
        strv_free(c->labels);
        strv_free(c->programs);
        strv_free(c->maps);
        free(c);
        return NULL;
}

/* A label whose value is a JSON object of names to type strings. */
static int parse_name_type_label(const char *key, const char *value, char ***ret, ErrorInfo *error) {
        _cleanup_json_ json_object *j = NULL;
        ErrorInfo ignored;
        int r;

        r = parse_json(value, strlen(value), IMAGE_LABEL_SIZE_MAX, "label", &j, &ignored);
        if (r < 0)
                return error_info_set(error, EBADMSG, BUS_ERROR_INVALID_BYTECODE,
                                      "The image label %s is not a JSON object of names to types: %s", key, ignored.message);
        if (json_object_object_length(j) > IMAGE_PROGRAMS_MAX)
                return error_info_set(error, E2BIG, BUS_ERROR_LIMITS_EXCEEDED, "The image label %s lists more than %d entries.",
                                      key, IMAGE_PROGRAMS_MAX);
        json_object_object_foreach(j, name, type) {
                if (!json_object_is_type(type, json_type_string) || isempty(name))
                        return error_info_set(error, EBADMSG, BUS_ERROR_INVALID_BYTECODE,
                                              "The image label %s maps '%.64s' to something that is not a type name.", key, name);
                if (strv_extend(ret, name) < 0 || strv_extend(ret, json_object_get_string(type)) < 0)
                        return error_info_set(error, ENOMEM, NULL, "Out of memory.");
        }
        return 0;
}

static const char *strv_pairs_get(char **pairs, const char *key) {
        for (size_t i = 0; pairs && pairs[i] && pairs[i + 1]; i += 2)
                if (streq(pairs[i], key))
                        return pairs[i + 1];
        return NULL;
}

static int parse_labels(json_object *labels, ImageConfig *c, ErrorInfo *error) {
        const char *programs, *maps, *function, *type;
        int r;

        if (!labels)
                return 0;
        if (!json_object_is_type(labels, json_type_object))
                return error_info_set(error, EBADMSG, BUS_ERROR_INVALID_BYTECODE, "The image config's Labels is not an object.");
        if (json_object_object_length(labels) > IMAGE_LABELS_MAX)
                return error_info_set(error, E2BIG, BUS_ERROR_LIMITS_EXCEEDED, "The image has more than %d labels.",
                                      IMAGE_LABELS_MAX);
        json_object_object_foreach(labels, key, value) {
                if (!json_object_is_type(value, json_type_string))
                        return error_info_set(error, EBADMSG, BUS_ERROR_INVALID_BYTECODE,
                                              "The image label '%.64s' is not a string.", key);
                if (strv_extend(&c->labels, key) < 0 || strv_extend(&c->labels, json_object_get_string(value)) < 0)
                        return error_info_set(error, ENOMEM, NULL, "Out of memory.");
        }

        programs = strv_pairs_get(c->labels, "io.ebpf.programs");
        maps = strv_pairs_get(c->labels, "io.ebpf.maps");
        if (programs) {
                r = parse_name_type_label("io.ebpf.programs", programs, &c->programs, error);
                if (r < 0)
                        return r;
        }
        if (maps) {
                r = parse_name_type_label("io.ebpf.maps", maps, &c->maps, error);
                if (r < 0)
                        return r;
        }
        if (programs)
                return 0;

        /* bpfman's v1 labels: one program, named by its function. */
        function = strv_pairs_get(c->labels, "io.ebpf.bpf_function_name");
        type = strv_pairs_get(c->labels, "io.ebpf.program_type");
        if (function) {
                if (strv_extend(&c->programs, function) < 0 || strv_extend(&c->programs, strempty(type)) < 0)
                        return error_info_set(error, ENOMEM, NULL, "Out of memory.");
                c->legacy_labels = true;
        }
        return 0;
}

int image_config_parse(const void *data, size_t size, ImageConfig **ret, ErrorInfo *error) {
        _cleanup_(image_config_freep) ImageConfig *c = NULL;
        _cleanup_json_ json_object *j = NULL;
        json_object *config, *labels = NULL;
        int r;

        r = parse_json(data, size, OCI_CONFIG_SIZE_MAX, "image config", &j, error);
        if (r < 0)
                return r;

        c = calloc(1, sizeof(*c));
        if (!c)
                return error_info_set(error, ENOMEM, NULL, "Out of memory.");
        if (dup_string(j, "architecture", &c->architecture) < 0 || dup_string(j, "os", &c->os) < 0)
                return error_info_set(error, EBADMSG, BUS_ERROR_INVALID_BYTECODE,
                                      "The image config's architecture or os is not a string.");

        /* OCI and docker keep labels in config.Labels. */
        if (json_object_object_get_ex(j, "config", &config) && config) {
                if (!json_object_is_type(config, json_type_object))
                        return error_info_set(error, EBADMSG, BUS_ERROR_INVALID_BYTECODE,
                                              "The image config's 'config' member is not an object.");
                (void) json_object_object_get_ex(config, "Labels", &labels);
        }
        r = parse_labels(labels, c, error);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(c);
        return 0;
}

int image_config_check_programs(const ImageConfig *c, char * const *names, ErrorInfo *error) {
        char offered[256] = "";
        size_t used = 0;

        if (!c->programs)
                return 0;
        for (size_t i = 0; c->programs[i] && c->programs[i + 1]; i += 2)
                if (used < sizeof offered - 1)
                        used += (size_t) snprintf(offered + used, sizeof offered - used, "%s%s", used ? ", " : "",
                                                  c->programs[i]);
        STRV_FOREACH(n, names)
                if (!strv_pairs_get(c->programs, *n))
                        return error_info_set(error, ENOENT, BUS_ERROR_INVALID_BYTECODE,
                                              "The image has no program '%s'; its labels list: %s.", *n, offered);
        return 0;
}
