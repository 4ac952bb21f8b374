/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <inttypes.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "fileio.h"
#include "image-ref.h"
#include "json-util.h"
#include "image-store.h"
#include "oci.h"
#include "time-util.h"

#define INDEX_JSON_SIZE_MAX (16U << 20)

void stored_image_done(StoredImage *i) {
        i->reference = mfree(i->reference);
        i->digest = mfree(i->digest);
        i->media_type = mfree(i->media_type);
        i->index_digest = mfree(i->index_digest);
}

void stored_image_array_free(StoredImage *a, size_t n) {
        for (size_t i = 0; i < n; i++)
                stored_image_done(&a[i]);
        free(a);
}

static char *store_path(const ImageStore *s, const char *relative) {
        return strjoin(s->root, "/", relative);
}

/* Durable replace: temp file, fsync, rename, fsync of the directory. */
static int write_file_durable(const char *dir, const char *name, const void *data, size_t size) {
        _cleanup_free_ char *tmp = NULL, *target = NULL;
        _cleanup_close_ int fd = -EBADF, dfd = -EBADF;
        const uint8_t *p = data;

        tmp = strjoin(dir, "/.", name, ".XXXXXX");
        target = strjoin(dir, "/", name);
        if (!tmp || !target)
                return -ENOMEM;
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        while (size > 0) {
                ssize_t n = write(fd, p, size);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        int r = -errno;
                        (void) unlink(tmp);
                        return r;
                }
                p += n;
                size -= (size_t) n;
        }
        if (fchmod(fd, 0644) < 0 || fsync(fd) < 0 || rename(tmp, target) < 0) {
                int r = -errno;
                (void) unlink(tmp);
                return r;
        }
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0)
                (void) fsync(dfd);
        return 0;
}

/* Makes a rename durable. */
static void fsync_directory_of(const char *path) {
        _cleanup_free_ char *dir = strdup(path);
        _cleanup_close_ int fd = -EBADF;
        char *slash = dir ? strrchr(dir, '/') : NULL;

        if (!slash)
                return;
        *slash = '\0';
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0)
                (void) fsync(fd);
}

/* Temporary files of durable writes a crash interrupted: ".<name>.XXXXXX". */
static void remove_stale_temporaries(const char *dir) {
        _cleanup_(closedirp) DIR *d = opendir(dir);
        struct dirent *de;

        while (d && (de = readdir(d)))
                if (de->d_name[0] == '.' && !streq(de->d_name, ".") && !streq(de->d_name, "..") &&
                    !streq(de->d_name, ".lock") && de->d_type == DT_REG)
                        (void) unlinkat(dirfd(d), de->d_name, 0);
}

static int store_lock(const ImageStore *s) {
        _cleanup_free_ char *path = store_path(s, ".lock");
        int fd;

        if (!path)
                return -ENOMEM;
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        if (flock(fd, LOCK_EX) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

int image_store_open(const char *root, ImageStore **ret) {
        _cleanup_(image_store_freep) ImageStore *s = NULL;
        _cleanup_free_ char *blobs = NULL, *ingest = NULL, *layout = NULL, *index = NULL;
        int r;

        s = calloc(1, sizeof(*s));
        if (!s || !(s->root = strdup(root)))
                return -ENOMEM;
        blobs = store_path(s, "blobs/sha256");
        ingest = store_path(s, "ingest");
        layout = store_path(s, "oci-layout");
        index = store_path(s, "index.json");
        if (!blobs || !ingest || !layout || !index)
                return -ENOMEM;

        r = mkdir_parents(blobs, 0755);
        if (r < 0)
                return r;
        (void) rm_rf(ingest);
        remove_stale_temporaries(root);
        remove_stale_temporaries(blobs);
        r = mkdir_parents(ingest, 0700);
        if (r < 0)
                return r;
        if (access(layout, F_OK) < 0) {
                static const char text[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
                r = write_file_durable(root, "oci-layout", text, strlen(text));
                if (r < 0)
                        return r;
        }
        if (access(index, F_OK) < 0) {
                static const char text[] = "{\"schemaVersion\":2,\"mediaType\":\"" OCI_MEDIA_INDEX "\",\"manifests\":[]}";
                r = write_file_durable(root, "index.json", text, strlen(text));
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(s);
        return 0;
}

ImageStore *image_store_free(ImageStore *s) {
        if (s) {
                free(s->root);
                free(s);
        }
        return NULL;
}

char *image_store_blob_path(const ImageStore *s, const char *digest) {
        const char *hex = startswith(digest, "sha256:");

        assert(hex);
        return strjoin(s->root, "/blobs/sha256/", hex);
}

bool image_store_has_blob(const ImageStore *s, const char *digest, uint64_t size) {
        _cleanup_free_ char *path = image_store_blob_path(s, digest);
        struct stat st;

        return path && stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
               (size == UINT64_MAX || (uint64_t) st.st_size == size);
}

int image_store_ingest_new(const ImageStore *s, int *ret_fd, char **ret_path) {
        _cleanup_free_ char *path = store_path(s, "ingest/blob.XXXXXX");
        int fd;

        if (!path)
                return -ENOMEM;
        fd = mkostemp(path, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        *ret_fd = fd;
        *ret_path = TAKE_PTR(path);
        return 0;
}

int image_store_ingest_commit(const ImageStore *s, int fd, const char *path, const char *digest, uint64_t size,
                              ErrorInfo *error) {
        char actual[DIGEST_STRING_MAX];
        uint64_t actual_size;
        int r;

        r = sha256_fd(fd, actual, &actual_size);
        if (r < 0) {
                (void) unlink(path);
                return error_info_set(error, r, NULL, "Could not read the downloaded blob: %m");
        }
        if (actual_size != size || !streq(actual, digest)) {
                (void) unlink(path);
                if (actual_size != size)
                        return error_info_set(error, EBADMSG, BUS_ERROR_DIGEST_MISMATCH,
                                              "Blob %s: the registry sent %" PRIu64 " bytes, the manifest says %" PRIu64 ".",
                                              digest, actual_size, size);
                return error_info_set(error, EBADMSG, BUS_ERROR_DIGEST_MISMATCH,
                                      "Blob %s: the bytes received hash to %s; nothing was stored.", digest, actual);
        }
        return image_store_ingest_publish(s, fd, path, digest, error);
}

int image_store_ingest_publish(const ImageStore *s, int fd, const char *path, const char *digest, ErrorInfo *error) {
        _cleanup_free_ char *target = image_store_blob_path(s, digest);
        int r;

        if (!target) {
                (void) unlink(path);
                return error_info_set(error, ENOMEM, NULL, "Out of memory.");
        }
        if (fchmod(fd, 0644) < 0 || fsync(fd) < 0 || rename(path, target) < 0) {
                r = -errno;
                (void) unlink(path);
                return error_info_set(error, r, NULL, "Could not store blob %s: %m", digest);
        }
        fsync_directory_of(target);
        return 0;
}

int image_store_put_blob(const ImageStore *s, const void *data, size_t size, const char *digest, ErrorInfo *error) {
        _cleanup_free_ char *dir = NULL;
        char actual[DIGEST_STRING_MAX];
        int r;

        r = sha256_buffer(data, size, actual);
        if (r < 0)
                return error_info_set(error, r, NULL, "Could not hash: %m");
        if (!streq(actual, digest))
                return error_info_set(error, EBADMSG, BUS_ERROR_DIGEST_MISMATCH,
                                      "Content expected to be %s hashes to %s; nothing was stored.", digest, actual);
        if (image_store_has_blob(s, digest, size))
                return 0;
        dir = store_path(s, "blobs/sha256");
        if (!dir)
                return error_info_set(error, ENOMEM, NULL, "Out of memory.");
        r = write_file_durable(dir, startswith(digest, "sha256:"), data, size);
        if (r < 0)
                return error_info_set(error, r, NULL, "Could not store blob %s: %m", digest);
        return 0;
}

int image_store_open_blob(const ImageStore *s, const char *digest, int *ret_fd, ErrorInfo *error) {
        _cleanup_free_ char *path = image_store_blob_path(s, digest);
        _cleanup_close_ int fd = -EBADF;
        char actual[DIGEST_STRING_MAX];
        int r;

        if (!path)
                return error_info_set(error, ENOMEM, NULL, "Out of memory.");
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return error_info_set(error, errno, errno == ENOENT ? BUS_ERROR_NO_SUCH_IMAGE : NULL,
                                      "Blob %s is not in the image store: %m", digest);
        r = sha256_fd(fd, actual, NULL);
        if (r < 0)
                return error_info_set(error, r, NULL, "Could not read blob %s: %m", digest);
        if (!streq(actual, digest))
                return error_info_set(error, EBADMSG, BUS_ERROR_DIGEST_MISMATCH,
                                      "Blob %s in the image store was modified: it now hashes to %s. Pull the image again.",
                                      digest, actual);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int image_store_read_blob(const ImageStore *s, const char *digest, size_t max, char **ret, size_t *ret_size,
                          ErrorInfo *error) {
        _cleanup_free_ char *path = image_store_blob_path(s, digest), *data = NULL;
        char actual[DIGEST_STRING_MAX];
        size_t size;
        int r;

        if (!path)
                return error_info_set(error, ENOMEM, NULL, "Out of memory.");
        r = read_full_file(path, max, &data, &size);
        if (r == -EFBIG)
                return error_info_set(error, E2BIG, BUS_ERROR_LIMITS_EXCEEDED, "Blob %s is larger than %zu bytes.", digest, max);
        if (r < 0)
                return error_info_set(error, r, r == -ENOENT ? BUS_ERROR_NO_SUCH_IMAGE : NULL,
                                      "Could not read blob %s from the image store: %m", digest);
        r = sha256_buffer(data, size, actual);
        if (r < 0)
                return error_info_set(error, r, NULL, "Could not hash: %m");
        if (!streq(actual, digest))
                return error_info_set(error, EBADMSG, BUS_ERROR_DIGEST_MISMATCH,
                                      "Blob %s in the image store was modified: it now hashes to %s. Pull the image again.",
                                      digest, actual);
        *ret = TAKE_PTR(data);
        *ret_size = size;
        return 0;
}

/* index.json and its manifests array (owned by the object). */
static int read_index(const ImageStore *s, json_object **ret, json_object **ret_manifests) {
        _cleanup_free_ char *path = store_path(s, "index.json"), *text = NULL;
        json_object *j, *manifests;
        size_t size;
        int r;

        if (!path)
                return -ENOMEM;
        r = read_full_file(path, INDEX_JSON_SIZE_MAX, &text, &size);
        if (r < 0)
                return r;
        j = json_tokener_parse(text);
        if (!j || !json_object_object_get_ex(j, "manifests", &manifests) ||
            !json_object_is_type(manifests, json_type_array)) {
                json_object_put(j);
                return -EBADMSG;
        }
        *ret = j;
        *ret_manifests = manifests;
        return 0;
}

/* Takes the store's lock (returned in *ret_lock) and reads index.json. */
static int read_index_locked(const ImageStore *s, int *ret_lock, json_object **ret, json_object **ret_manifests) {
        _cleanup_close_ int lock = store_lock(s);
        int r;

        if (lock < 0)
                return lock;
        r = read_index(s, ret, ret_manifests);
        if (r < 0)
                return r;
        *ret_lock = TAKE_FD(lock);
        return 0;
}

static int write_index(const ImageStore *s, json_object *j) {
        const char *text = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);

        return write_file_durable(s->root, "index.json", text, strlen(text));
}

static const char *annotation(json_object *entry, const char *key) {
        json_object *a, *v;

        if (!json_object_object_get_ex(entry, "annotations", &a) || !json_object_object_get_ex(a, key, &v) ||
            !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

static const char *member_string(json_object *j, const char *key) {
        json_object *v;

        if (!json_object_object_get_ex(j, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

static int entry_to_stored_image(json_object *entry, StoredImage *ret) {
        const char *reference = annotation(entry, OCI_ANNOTATION_REF_NAME), *digest = member_string(entry, "digest"),
                   *media_type = member_string(entry, "mediaType"), *index_digest, *pulled;
        json_object *size;

        if (!reference || !digest || !digest_is_valid(digest) || !media_type ||
            !json_object_object_get_ex(entry, "size", &size))
                return -EBADMSG;
        index_digest = annotation(entry, IMAGE_STORE_ANNOTATION_INDEX);
        pulled = annotation(entry, IMAGE_STORE_ANNOTATION_PULLED);

        *ret = (StoredImage) {
                .reference = strdup(reference),
                .digest = strdup(digest),
                .media_type = strdup(media_type),
                .size = (uint64_t) json_object_get_int64(size),
                .index_digest = index_digest ? strdup(index_digest) : NULL,
                .pulled_usec = pulled ? strtoull(pulled, NULL, 10) : 0,
        };
        if (!ret->reference || !ret->digest || !ret->media_type || (index_digest && !ret->index_digest)) {
                stored_image_done(ret);
                return -ENOMEM;
        }
        return 0;
}

int image_store_list(const ImageStore *s, StoredImage **ret, size_t *ret_n) {
        _cleanup_json_ json_object *j = NULL;
        json_object *manifests;
        StoredImage *images;
        size_t n = 0;
        int r;

        r = read_index(s, &j, &manifests);
        if (r < 0)
                return r;
        images = calloc(json_object_array_length(manifests) + 1, sizeof(StoredImage));
        if (!images)
                return -ENOMEM;
        for (size_t i = 0; i < json_object_array_length(manifests); i++) {
                /* Entries another tool added without our annotations are not ours to show. */
                r = entry_to_stored_image(json_object_array_get_idx(manifests, i), &images[n]);
                if (r == -ENOMEM) {
                        stored_image_array_free(images, n);
                        return r;
                }
                if (r >= 0)
                        n++;
        }
        *ret = images;
        *ret_n = n;
        return 0;
}

int image_store_find(const ImageStore *s, const char *reference_or_digest, StoredImage *ret) {
        StoredImage *images;
        size_t n;
        int r;

        r = image_store_list(s, &images, &n);
        if (r < 0)
                return r;
        r = -ENOENT;
        for (size_t i = 0; i < n; i++)
                if (streq(images[i].reference, reference_or_digest) || streq(images[i].digest, reference_or_digest) ||
                    streq_ptr(images[i].index_digest, reference_or_digest)) {
                        *ret = images[i];
                        images[i] = (StoredImage) {};
                        r = 0;
                        break;
                }
        stored_image_array_free(images, n);
        return r;
}

static int index_drop_reference(json_object *manifests, const char *reference) {
        for (size_t i = json_object_array_length(manifests); i > 0; i--)
                if (streq_ptr(annotation(json_object_array_get_idx(manifests, i - 1), OCI_ANNOTATION_REF_NAME), reference)) {
                        json_object_array_del_idx(manifests, i - 1, 1);
                        return 1;
                }
        return 0;
}

int image_store_add(const ImageStore *s, const StoredImage *image) {
        _cleanup_json_ json_object *j = NULL;
        _cleanup_close_ int lock = -EBADF;
        json_object *manifests, *entry, *annotations;
        char pulled[32];
        int r;

        r = read_index_locked(s, &lock, &j, &manifests);
        if (r < 0)
                return r;
        (void) index_drop_reference(manifests, image->reference);

        entry = json_object_new_object();
        annotations = json_object_new_object();
        if (!entry || !annotations) {
                json_object_put(entry);
                json_object_put(annotations);
                return -ENOMEM;
        }
        snprintf(pulled, sizeof pulled, "%" PRIu64, image->pulled_usec);
        json_object_object_add(entry, "mediaType", json_object_new_string(image->media_type));
        json_object_object_add(entry, "digest", json_object_new_string(image->digest));
        json_object_object_add(entry, "size", json_object_new_int64((int64_t) image->size));
        json_object_object_add(annotations, OCI_ANNOTATION_REF_NAME, json_object_new_string(image->reference));
        json_object_object_add(annotations, IMAGE_STORE_ANNOTATION_PULLED, json_object_new_string(pulled));
        if (image->index_digest)
                json_object_object_add(annotations, IMAGE_STORE_ANNOTATION_INDEX, json_object_new_string(image->index_digest));
        json_object_object_add(entry, "annotations", annotations);
        json_object_array_add(manifests, entry);
        return write_index(s, j);
}

int image_store_remove(const ImageStore *s, const char *reference) {
        _cleanup_json_ json_object *j = NULL;
        _cleanup_close_ int lock = -EBADF;
        json_object *manifests;
        int r;

        r = read_index_locked(s, &lock, &j, &manifests);
        if (r < 0)
                return r;
        if (!index_drop_reference(manifests, reference))
                return -ENOENT;
        return write_index(s, j);
}

/* Adds the digests a manifest (or index) reaches to *reached. A missing or
 * unreadable manifest only reaches itself. */
static int collect_reachable(const ImageStore *s, const char *digest, char ***reached, unsigned depth) {
        _cleanup_(oci_manifest_freep) OciManifest *m = NULL;
        _cleanup_free_ char *data = NULL;
        ErrorInfo ignored;
        size_t size;
        int r;

        if (strv_contains(*reached, digest))
                return 0;
        r = strv_extend(reached, digest);
        if (r < 0)
                return r;
        if (depth > 2 || image_store_read_blob(s, digest, OCI_MANIFEST_SIZE_MAX, &data, &size, &ignored) < 0 ||
            oci_manifest_parse(data, size, NULL, &m, &ignored) < 0)
                return 0;
        if (m->kind == OCI_KIND_INDEX) {
                for (size_t i = 0; i < m->n_manifests; i++) {
                        r = collect_reachable(s, m->manifests[i].digest, reached, depth + 1);
                        if (r < 0)
                                return r;
                }
                return 0;
        }
        if (strv_extend(reached, m->config.digest) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < m->n_layers; i++)
                if (strv_extend(reached, m->layers[i].digest) < 0)
                        return -ENOMEM;
        return 0;
}

int image_store_image_size(const ImageStore *s, const StoredImage *image, uint64_t *ret) {
        _cleanup_strv_free_ char **reached = NULL;
        uint64_t total = 0;
        int r;

        r = collect_reachable(s, image->digest, &reached, 0);
        if (r < 0)
                return r;
        STRV_FOREACH(d, reached) {
                _cleanup_free_ char *path = image_store_blob_path(s, *d);
                struct stat st;
                if (path && stat(path, &st) == 0)
                        total += (uint64_t) st.st_size;
        }
        *ret = total;
        return 0;
}

int image_store_prune_blobs(const ImageStore *s, char * const *keep_digests, uint64_t *ret_freed, unsigned *ret_removed) {
        _cleanup_strv_free_ char **reached = NULL;
        _cleanup_(closedirp) DIR *d = NULL;
        _cleanup_close_ int lock = -EBADF;
        _cleanup_free_ char *dir = NULL;
        StoredImage *images;
        uint64_t freed = 0;
        unsigned removed = 0;
        struct dirent *de;
        size_t n;
        int r;

        lock = store_lock(s);
        if (lock < 0)
                return lock;
        r = image_store_list(s, &images, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n && r >= 0; i++) {
                r = collect_reachable(s, images[i].digest, &reached, 0);
                if (r >= 0 && images[i].index_digest)
                        r = strv_extend(&reached, images[i].index_digest);
        }
        stored_image_array_free(images, n);
        if (r < 0)
                return r;

        dir = store_path(s, "blobs/sha256");
        if (!dir)
                return -ENOMEM;
        d = opendir(dir);
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                _cleanup_free_ char *digest = NULL;
                struct stat st;

                if (de->d_name[0] == '.')
                        continue;
                digest = strjoin("sha256:", de->d_name);
                if (!digest)
                        return -ENOMEM;
                if (strv_contains(reached, digest) || strv_contains(keep_digests, digest))
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                if (unlinkat(dirfd(d), de->d_name, 0) < 0)
                        return -errno;
                freed += (uint64_t) st.st_size;
                removed++;
        }
        if (ret_freed)
                *ret_freed = freed;
        if (ret_removed)
                *ret_removed = removed;
        return 0;
}
