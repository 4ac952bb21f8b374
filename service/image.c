/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <inttypes.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "fileio.h"
#include "image-ref.h"
#include "image.h"
#include "json-util.h"
#include "layer.h"
#include "time-util.h"

ImageInfo *image_info_free(ImageInfo *i) {
        if (!i)
                return NULL;
        stored_image_done(&i->stored);
        image_config_free(i->config);
        free(i->layer_digest);
        free(i->layer_media_type);
        strv_free(i->platforms);
        free(i);
        return NULL;
}

static int stored_image_copy(const StoredImage *from, StoredImage *to) {
        *to = (StoredImage) {
                .reference = strdup(from->reference),
                .digest = strdup(from->digest),
                .media_type = strdup(from->media_type),
                .size = from->size,
                .index_digest = from->index_digest ? strdup(from->index_digest) : NULL,
                .pulled_usec = from->pulled_usec,
        };
        if (!to->reference || !to->digest || !to->media_type || (from->index_digest && !to->index_digest)) {
                stored_image_done(to);
                return -ENOMEM;
        }
        return 0;
}

int image_info_load(const ImageStore *store, const StoredImage *stored, ImageInfo **ret, ErrorInfo *error) {
        _cleanup_(image_info_freep) ImageInfo *info = NULL;
        _cleanup_(oci_manifest_freep) OciManifest *m = NULL;
        _cleanup_free_ char *manifest = NULL, *config = NULL;
        const OciDescriptor *layer;
        size_t size;
        int r;

        info = calloc(1, sizeof(*info));
        if (!info || stored_image_copy(stored, &info->stored) < 0)
                return error_info_set(error, ENOMEM, NULL, "Out of memory.");

        r = image_store_read_blob(store, stored->digest, OCI_MANIFEST_SIZE_MAX, &manifest, &size, error);
        if (r < 0)
                return r;
        r = oci_manifest_parse(manifest, size, stored->media_type, &m, error);
        if (r < 0)
                return r;
        if (m->kind != OCI_KIND_MANIFEST)
                return error_info_set(error, EBADMSG, BUS_ERROR_INVALID_BYTECODE,
                                      "The stored entry for %s is an index, not an image manifest.", stored->reference);
        r = oci_manifest_bytecode_layer(m, &info->format, &layer, error);
        if (r < 0)
                return r;
        r = image_store_read_blob(store, m->config.digest, OCI_CONFIG_SIZE_MAX, &config, &size, error);
        if (r < 0)
                return r;
        r = image_config_parse(config, size, &info->config, error);
        if (r < 0)
                return r;
        info->layer_digest = strdup(layer->digest);
        info->layer_media_type = strdup(layer->media_type);
        if (!info->layer_digest || !info->layer_media_type)
                return error_info_set(error, ENOMEM, NULL, "Out of memory.");
        info->layer_size = layer->size;
        (void) image_store_image_size(store, stored, &info->total_size);

        /* The platforms the index offered; the store keeps the index blob. */
        if (stored->index_digest) {
                _cleanup_(oci_manifest_freep) OciManifest *index = NULL;
                _cleanup_free_ char *text = NULL;
                ErrorInfo ignored;
                if (image_store_read_blob(store, stored->index_digest, OCI_MANIFEST_SIZE_MAX, &text, &size, &ignored) >= 0 &&
                    oci_manifest_parse(text, size, NULL, &index, &ignored) >= 0 && index->kind == OCI_KIND_INDEX)
                        for (size_t i = 0; i < index->n_manifests; i++) {
                                char *p = strjoin(strna(index->manifests[i].os), "/", strna(index->manifests[i].architecture));
                                if (!p || strv_push(&info->platforms, p) < 0)
                                        return error_info_set(error, ENOMEM, NULL, "Out of memory.");
                        }
        }

        *ret = TAKE_PTR(info);
        return 0;
}

int image_layer_bytecode(int layer_fd, const char *media_type, int *ret_memfd, ErrorInfo *error) {
        _cleanup_close_ int fd = -EBADF;
        int r;

        fd = memfd_create("bpfhub-bytecode", MFD_CLOEXEC);
        if (fd < 0)
                return error_info_set(error, errno, NULL, "Could not create a memory file: %m");
        r = layer_extract_elf(layer_fd, media_type, fd, LAYER_ELF_SIZE_MAX, error);
        if (r < 0)
                return r;
        r = elf_check_bpf_object(fd, error);
        if (r < 0)
                return r;
        *ret_memfd = TAKE_FD(fd);
        return 0;
}

int image_open_bytecode(const ImageStore *store, const ImageInfo *info, int *ret_memfd, ErrorInfo *error) {
        _cleanup_close_ int layer_fd = -EBADF;
        int r;

        r = image_store_open_blob(store, info->layer_digest, &layer_fd, error);
        if (r < 0)
                return r;
        return image_layer_bytecode(layer_fd, info->layer_media_type, ret_memfd, error);
}

static json_object *pairs_to_json(char **pairs) {
        json_object *o = json_object_new_object();

        for (size_t i = 0; o && pairs && pairs[i] && pairs[i + 1]; i += 2)
                json_object_object_add(o, pairs[i], json_object_new_string(pairs[i + 1]));
        return o;
}

int image_info_to_json(const ImageInfo *info, const uint32_t *used_by, size_t n_used_by, json_object **ret) {
        json_object *j = json_object_new_object(), *users = json_object_new_array();

        if (!j || !users) {
                json_object_put(j);
                json_object_put(users);
                return -ENOMEM;
        }
        json_object_object_add(j, "reference", json_object_new_string(info->stored.reference));
        json_object_object_add(j, "digest", json_object_new_string(info->stored.digest));
        json_add_string_or_null(j, "indexDigest", info->stored.index_digest);
        json_object_object_add(j, "mediaType", json_object_new_string(info->stored.media_type));
        json_object_object_add(j, "format", json_object_new_string(image_format_to_string(info->format)));
        json_object_object_add(j, "size", json_object_new_int64((int64_t) info->total_size));
        json_add_string_or_null(j, "architecture", info->config->architecture);
        json_add_string_or_null(j, "os", info->config->os);
        json_object_object_add(j, "pulledAtUSec", json_object_new_int64((int64_t) info->stored.pulled_usec));
        json_object_object_add(j, "layerDigest", json_object_new_string(info->layer_digest));
        json_object_object_add(j, "labels", pairs_to_json(info->config->labels));
        json_object_object_add(j, "programs", pairs_to_json(info->config->programs));
        json_object_object_add(j, "maps", pairs_to_json(info->config->maps));
        json_object_object_add(j, "legacyLabels", json_object_new_boolean(info->config->legacy_labels));
        json_object_object_add(j, "indexPlatforms", json_new_strv(info->platforms));
        for (size_t i = 0; i < n_used_by; i++)
                json_object_array_add(users, json_object_new_int64(used_by[i]));
        json_object_object_add(j, "usedBy", users);
        *ret = j;
        return 0;
}

/* Copies one blob of the layout into the store, verifying it. */
static int import_blob(const ImageStore *store, const char *dir, const char *digest, uint64_t size, uint64_t max,
                       ErrorInfo *error) {
        _cleanup_free_ char *path = NULL, *tmp = NULL;
        _cleanup_close_ int in = -EBADF, out = -EBADF;
        uint8_t buf[64 * 1024];
        uint64_t copied = 0;
        int r;

        if (image_store_has_blob(store, digest, size))
                return 0;
        if (size > max)
                return error_info_set(error, E2BIG, BUS_ERROR_LIMITS_EXCEEDED,
                                      "Blob %s is %" PRIu64 " bytes; at most %" PRIu64 " are accepted.", digest, size, max);
        path = strjoin(dir, "/blobs/sha256/", startswith(digest, "sha256:"));
        if (!path)
                return error_info_set(error, ENOMEM, NULL, "Out of memory.");
        in = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (in < 0)
                return error_info_set(error, errno, BUS_ERROR_NO_SUCH_IMAGE, "The layout has no blob %s: %m", digest);
        r = image_store_ingest_new(store, &out, &tmp);
        if (r < 0)
                return error_info_set(error, r, NULL, "Could not create a file in the image store: %m");
        for (;;) {
                ssize_t n = read(in, buf, sizeof buf);
                if (n < 0) {
                        r = -errno;
                        (void) unlink(tmp);
                        return error_info_set(error, r, NULL, "Could not read %s: %m", path);
                }
                if (n == 0)
                        break;
                copied += (uint64_t) n;
                if (copied > size || write(out, buf, (size_t) n) != n) {
                        (void) unlink(tmp);
                        return error_info_set(error, EBADMSG, BUS_ERROR_DIGEST_MISMATCH,
                                              "Blob %s in the layout is larger than its descriptor says (%" PRIu64 " bytes) or could not be copied.",
                                              digest, size);
                }
        }
        return image_store_ingest_commit(store, out, tmp, digest, size, error);
}

static int find_layout_manifest(const char *dir, const char *tag, OciDescriptor *ret, ErrorInfo *error) {
        _cleanup_free_ char *path = strjoin(dir, "/index.json"), *text = NULL;
        _cleanup_(oci_manifest_freep) OciManifest *index = NULL;
        size_t size;
        int r;

        if (!path)
                return error_info_set(error, ENOMEM, NULL, "Out of memory.");
        r = read_full_file(path, OCI_MANIFEST_SIZE_MAX, &text, &size);
        if (r < 0)
                return error_info_set(error, r, r == -ENOENT ? BUS_ERROR_NO_SUCH_IMAGE : NULL,
                                      "Could not read %s: %m", path);
        /* index.json entries keep the tag in an annotation; parse the raw JSON for it. */
        json_object *j = json_tokener_parse(text), *manifests;
        if (!j || !json_object_object_get_ex(j, "manifests", &manifests) || !json_object_is_type(manifests, json_type_array)) {
                json_object_put(j);
                return error_info_set(error, EBADMSG, BUS_ERROR_INVALID_BYTECODE, "%s is not an OCI image index.", path);
        }
        r = oci_manifest_parse(text, size, OCI_MEDIA_INDEX, &index, error);
        if (r < 0) {
                json_object_put(j);
                return r;
        }
        for (size_t i = 0; i < json_object_array_length(manifests) && i < index->n_manifests; i++) {
                json_object *a, *name;
                if (json_object_object_get_ex(json_object_array_get_idx(manifests, i), "annotations", &a) &&
                    json_object_object_get_ex(a, OCI_ANNOTATION_REF_NAME, &name) &&
                    streq_ptr(json_object_get_string(name), tag)) {
                        OciDescriptor *d = &index->manifests[i];
                        *ret = *d;
                        *d = (OciDescriptor) {};
                        json_object_put(j);
                        return 0;
                }
        }
        json_object_put(j);
        return error_info_set(error, ENOENT, BUS_ERROR_NO_SUCH_IMAGE, "The OCI layout %s has no image tagged '%s'.", dir, tag);
}

int image_import_oci_layout(const ImageStore *store, const char *dir, const char *tag, StoredImage *ret,
                            ErrorInfo *error) {
        _cleanup_(oci_descriptor_done) OciDescriptor top = {};
        _cleanup_(oci_manifest_freep) OciManifest *m = NULL;
        _cleanup_free_ char *manifest = NULL, *path = NULL, *reference = NULL, *index_digest = NULL;
        _cleanup_close_ int layer_fd = -EBADF, bytecode = -EBADF;
        const OciDescriptor *layer, *chosen;
        ImageFormat format;
        size_t size;
        int r;

        r = find_layout_manifest(dir, tag, &top, error);
        if (r < 0)
                return r;
        chosen = &top;

        /* An index: take the host's entry. */
        for (int depth = 0;; depth++) {
                r = import_blob(store, dir, chosen->digest, chosen->size, OCI_MANIFEST_SIZE_MAX, error);
                if (r < 0)
                        return r;
                manifest = mfree(manifest);
                m = oci_manifest_free(m);
                r = image_store_read_blob(store, chosen->digest, OCI_MANIFEST_SIZE_MAX, &manifest, &size, error);
                if (r < 0)
                        return r;
                r = oci_manifest_parse(manifest, size, chosen->media_type, &m, error);
                if (r < 0)
                        return r;
                if (m->kind == OCI_KIND_MANIFEST)
                        break;
                if (depth > 0)
                        return error_info_set(error, EBADMSG, BUS_ERROR_INVALID_BYTECODE, "The layout nests indexes.");
                index_digest = strdup(chosen->digest);
                if (!index_digest)
                        return error_info_set(error, ENOMEM, NULL, "Out of memory.");
                r = oci_index_select(m, oci_host_arch(), &chosen, error);
                if (r < 0)
                        return r;
                /* chosen points into m, which the next round replaces: keep a copy. */
                oci_descriptor_done(&top);
                top = (OciDescriptor) { .media_type = strdup(chosen->media_type), .digest = strdup(chosen->digest),
                                        .size = chosen->size };
                if (!top.media_type || !top.digest)
                        return error_info_set(error, ENOMEM, NULL, "Out of memory.");
                chosen = &top;
        }

        r = oci_manifest_bytecode_layer(m, &format, &layer, error);
        if (r < 0)
                return r;
        r = import_blob(store, dir, m->config.digest, m->config.size, OCI_CONFIG_SIZE_MAX, error);
        if (r < 0)
                return r;
        r = import_blob(store, dir, layer->digest, layer->size, OCI_LAYER_SIZE_MAX, error);
        if (r < 0)
                return r;
        r = image_store_open_blob(store, layer->digest, &layer_fd, error);
        if (r < 0)
                return r;
        r = image_layer_bytecode(layer_fd, layer->media_type, &bytecode, error);
        if (r < 0)
                return r;

        reference = strjoin("oci:", dir, ":", tag);
        if (!reference)
                return error_info_set(error, ENOMEM, NULL, "Out of memory.");
        *ret = (StoredImage) {
                .reference = TAKE_PTR(reference),
                .digest = strdup(top.digest),
                .media_type = strdup(top.media_type),
                .size = top.size,
                .index_digest = TAKE_PTR(index_digest),
                .pulled_usec = now_usec(CLOCK_REALTIME),
        };
        if (!ret->digest || !ret->media_type) {
                stored_image_done(ret);
                return error_info_set(error, ENOMEM, NULL, "Out of memory.");
        }
        r = image_store_add(store, ret);
        if (r < 0) {
                stored_image_done(ret);
                return error_info_set(error, r, NULL, "Could not record the image in the store: %m");
        }
        return 0;
}
