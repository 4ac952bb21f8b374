/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The image store as an OCI layout: blobs verified before they enter,
 * index.json entries, removal, pruning, and importing an OCI layout
 * directory (a bumblebee artifact: its layer is the raw object). */
#include <fcntl.h>
#include <ftw.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <sys/stat.h>

#include "digest.h"
#include "image-store.h"
#include "image.h"
#include "oci.h"

typedef struct Env {
        char *dir;
        char *root;
        ImageStore *store;
} Env;

static int remove_cb(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        return remove(path);
}

static void env_setup(Env *e) {
        e->dir = g_dir_make_tmp("bpfhub-test-store-XXXXXX", NULL);
        g_assert_nonnull(e->dir);
        e->root = g_build_filename(e->dir, "store", NULL);
        g_assert_cmpint(image_store_open(e->root, &e->store), ==, 0);
}

static void env_teardown(Env *e) {
        image_store_free(e->store);
        (void) nftw(e->dir, remove_cb, 16, FTW_DEPTH | FTW_PHYS);
        g_free(e->root);
        g_free(e->dir);
}

static char *digest_of(const void *data, size_t size) {
        char d[DIGEST_STRING_MAX];
        g_assert_cmpint(sha256_buffer(data, size, d), ==, 0);
        return g_strdup(d);
}

static unsigned count_blobs(Env *e) {
        g_autofree char *path = g_build_filename(e->root, "blobs", "sha256", NULL);
        GDir *d = g_dir_open(path, 0, NULL);
        unsigned n = 0;
        while (d && g_dir_read_name(d))
                n++;
        if (d)
                g_dir_close(d);
        return n;
}

static void test_layout_created(void) {
        Env e = {};
        g_autofree char *layout = NULL, *index = NULL, *text = NULL;

        env_setup(&e);
        layout = g_build_filename(e.root, "oci-layout", NULL);
        index = g_build_filename(e.root, "index.json", NULL);
        g_assert_true(g_file_get_contents(layout, &text, NULL, NULL));
        g_assert_nonnull(strstr(text, "\"imageLayoutVersion\":\"1.0.0\""));
        g_clear_pointer(&text, g_free);
        g_assert_true(g_file_get_contents(index, &text, NULL, NULL));
        g_assert_nonnull(strstr(text, "\"manifests\":[]"));

        /* A crash left a partial download behind: opening again clears it. */
        g_autofree char *stale = g_build_filename(e.root, "ingest", "blob.abc", NULL);
        g_assert_true(g_file_set_contents(stale, "partial", -1, NULL));
        image_store_free(e.store);
        g_assert_cmpint(image_store_open(e.root, &e.store), ==, 0);
        g_assert_false(g_file_test(stale, G_FILE_TEST_EXISTS));
        env_teardown(&e);
}

static void test_blobs_verified(void) {
        static const char data[] = "some blob";
        g_autofree char *digest = digest_of(data, strlen(data));
        g_autofree char *wrong = digest_of("other", 5);
        Env e = {};
        ErrorInfo err = {};
        char *read_back = NULL, *tmp = NULL;
        size_t size;
        int fd;

        env_setup(&e);
        g_assert_cmpint(image_store_put_blob(e.store, data, strlen(data), wrong, &err), ==, -EBADMSG);
        g_assert_cmpstr(err.bus_error, ==, BUS_ERROR_DIGEST_MISMATCH);
        g_assert_cmpuint(count_blobs(&e), ==, 0);
        g_assert_cmpint(image_store_put_blob(e.store, data, strlen(data), digest, &err), ==, 0);
        g_assert_true(image_store_has_blob(e.store, digest, strlen(data)));
        g_assert_false(image_store_has_blob(e.store, digest, 1));
        g_assert_cmpint(image_store_read_blob(e.store, digest, 100, &read_back, &size, &err), ==, 0);
        g_assert_cmpmem(read_back, size, data, strlen(data));
        free(read_back);
        g_assert_cmpint(image_store_read_blob(e.store, digest, 3, &read_back, &size, &err), ==, -E2BIG);

        /* A download that does not match its digest is removed, not stored. */
        g_assert_cmpint(image_store_ingest_new(e.store, &fd, &tmp), ==, 0);
        g_assert_cmpint(write(fd, "tampered", 8), ==, 8);
        g_assert_cmpint(image_store_ingest_commit(e.store, fd, tmp, wrong, 8, &err), ==, -EBADMSG);
        g_assert_cmpstr(err.bus_error, ==, BUS_ERROR_DIGEST_MISMATCH);
        g_assert_false(g_file_test(tmp, G_FILE_TEST_EXISTS));
        g_assert_cmpuint(count_blobs(&e), ==, 1);
        close(fd);
        free(tmp);

        /* A stored blob modified behind our back is noticed on read. */
        g_autofree char *path = image_store_blob_path(e.store, digest);
        g_assert_true(g_file_set_contents(path, "some blOb", -1, NULL));
        g_assert_cmpint(image_store_read_blob(e.store, digest, 100, &read_back, &size, &err), ==, -EBADMSG);
        g_assert_cmpstr(err.bus_error, ==, BUS_ERROR_DIGEST_MISMATCH);
        g_assert_cmpint(image_store_open_blob(e.store, digest, &fd, &err), ==, -EBADMSG);
        env_teardown(&e);
}

/* Writes blob into an OCI layout directory and returns its digest. */
static char *layout_blob(const char *dir, const void *data, size_t size) {
        char *digest = digest_of(data, size);
        g_autofree char *blobs = g_build_filename(dir, "blobs", "sha256", NULL);
        g_autofree char *path = g_build_filename(blobs, digest + 7, NULL);

        g_assert_cmpint(g_mkdir_with_parents(blobs, 0755), ==, 0);
        g_assert_true(g_file_set_contents(path, data, (gssize) size, NULL));
        return digest;
}

/* A bumblebee artifact tagged "tag" in an OCI layout, from the ELF at elf_path. */
static char *write_bumblebee_layout(const char *dir, const char *tag, const char *elf_path) {
        g_autofree char *elf = NULL, *config_digest = NULL, *layer_digest = NULL, *manifest = NULL, *index = NULL;
        g_autofree char *index_path = g_build_filename(dir, "index.json", NULL);
        g_autofree char *layout_path = g_build_filename(dir, "oci-layout", NULL);
        char *manifest_digest;
        gsize elf_size;

        g_assert_true(g_file_get_contents(elf_path, &elf, &elf_size, NULL));
        config_digest = layout_blob(dir, "{}", 2);
        layer_digest = layout_blob(dir, elf, elf_size);
        manifest = g_strdup_printf("{\"schemaVersion\":2,\"mediaType\":\"" OCI_MEDIA_MANIFEST "\","
                                   "\"config\":{\"mediaType\":\"" BUMBLEBEE_MEDIA_CONFIG "\",\"digest\":\"%s\",\"size\":2},"
                                   "\"layers\":[{\"mediaType\":\"" BUMBLEBEE_MEDIA_PROGRAM "\",\"digest\":\"%s\",\"size\":%zu}]}",
                                   config_digest, layer_digest, (size_t) elf_size);
        manifest_digest = layout_blob(dir, manifest, strlen(manifest));
        index = g_strdup_printf("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" OCI_MEDIA_MANIFEST "\","
                                "\"digest\":\"%s\",\"size\":%zu,\"annotations\":{\"" OCI_ANNOTATION_REF_NAME "\":\"%s\"}}]}",
                                manifest_digest, strlen(manifest), tag);
        g_assert_true(g_file_set_contents(index_path, index, -1, NULL));
        g_assert_true(g_file_set_contents(layout_path, "{\"imageLayoutVersion\":\"1.0.0\"}", -1, NULL));
        return manifest_digest;
}

static char *elf_path(void) {
        return g_build_filename(g_getenv("BPFHUB_BUILD_ROOT") ?: ".", "bpf", "xdp-counter.bpf.o", NULL);
}

static void test_import_list_remove_prune(void) {
        g_autofree char *layout = NULL, *elf = elf_path(), *manifest_digest = NULL, *reference = NULL;
        Env e = {};
        StoredImage img = {}, *all = NULL;
        ImageInfo *info = NULL;
        ErrorInfo err;
        size_t n;
        uint64_t freed;
        unsigned removed;
        int fd;

        if (!g_file_test(elf, G_FILE_TEST_EXISTS)) {
                g_test_skip("bpf/xdp-counter.bpf.o is not built");
                return;
        }
        env_setup(&e);
        layout = g_build_filename(e.dir, "layout", NULL);
        manifest_digest = write_bumblebee_layout(layout, "v1", elf);
        reference = g_strdup_printf("oci:%s:v1", layout);

        if (image_import_oci_layout(e.store, layout, "v1", &img, &err) < 0)
                g_error("import failed: %s", err.message);
        g_assert_cmpstr(img.reference, ==, reference);
        g_assert_cmpstr(img.digest, ==, manifest_digest);
        stored_image_done(&img);
        g_assert_cmpuint(count_blobs(&e), ==, 3);

        g_assert_cmpint(image_store_find(e.store, reference, &img), ==, 0);
        g_assert_cmpint(image_info_load(e.store, &img, &info, &err), ==, 0);
        g_assert_cmpint(info->format, ==, IMAGE_FORMAT_BUMBLEBEE);
        g_assert_cmpint(image_open_bytecode(e.store, info, &fd, &err), ==, 0);
        g_assert_cmpint(lseek(fd, 0, SEEK_END), >, 1000);
        close(fd);
        image_info_free(info);
        stored_image_done(&img);
        g_assert_cmpint(image_store_find(e.store, manifest_digest, &img), ==, 0);
        stored_image_done(&img);
        g_assert_cmpint(image_import_oci_layout(e.store, layout, "v2", &img, &err), ==, -ENOENT);
        g_assert_cmpstr(err.bus_error, ==, BUS_ERROR_NO_SUCH_IMAGE);

        /* Importing again replaces the entry rather than adding a second one. */
        g_assert_cmpint(image_import_oci_layout(e.store, layout, "v1", &img, &err), ==, 0);
        stored_image_done(&img);
        g_assert_cmpint(image_store_list(e.store, &all, &n), ==, 0);
        g_assert_cmpuint(n, ==, 1);
        stored_image_array_free(all, n);

        /* An unreferenced blob goes at prune, a referenced one stays unless kept. */
        g_autofree char *stray = digest_of("stray", 5);
        g_assert_cmpint(image_store_put_blob(e.store, "stray", 5, stray, &err), ==, 0);
        g_assert_cmpint(image_store_prune_blobs(e.store, (char *[]) { stray, NULL }, &freed, &removed), ==, 0);
        g_assert_cmpuint(removed, ==, 0);
        g_assert_cmpint(image_store_prune_blobs(e.store, NULL, &freed, &removed), ==, 0);
        g_assert_cmpuint(removed, ==, 1);
        g_assert_cmpuint(freed, ==, 5);
        g_assert_cmpuint(count_blobs(&e), ==, 3);

        g_assert_cmpint(image_store_remove(e.store, reference), ==, 0);
        g_assert_cmpint(image_store_remove(e.store, reference), ==, -ENOENT);
        g_assert_cmpint(image_store_prune_blobs(e.store, NULL, &freed, &removed), ==, 0);
        g_assert_cmpuint(removed, ==, 3);
        g_assert_cmpuint(count_blobs(&e), ==, 0);
        env_teardown(&e);
}

static void test_import_hostile_layout(void) {
        g_autofree char *layout = NULL, *index_path = NULL, *blob = NULL;
        Env e = {};
        StoredImage img = {};
        ErrorInfo err;

        env_setup(&e);
        layout = g_build_filename(e.dir, "layout", NULL);
        g_assert_cmpint(g_mkdir_with_parents(layout, 0755), ==, 0);

        /* no index.json */
        g_assert_cmpint(image_import_oci_layout(e.store, layout, "v1", &img, &err), ==, -ENOENT);

        /* a manifest blob whose bytes do not match the digest the index names */
        g_autofree char *real = layout_blob(layout, "{\"schemaVersion\":2}", 19);
        g_autofree char *fake = g_strdup("sha256:0000000000000000000000000000000000000000000000000000000000000000");
        g_autofree char *src = g_build_filename(layout, "blobs", "sha256", real + 7, NULL);
        g_autofree char *dst = g_build_filename(layout, "blobs", "sha256", fake + 7, NULL);
        g_assert_cmpint(rename(src, dst), ==, 0);
        index_path = g_build_filename(layout, "index.json", NULL);
        g_autofree char *index = g_strdup_printf("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" OCI_MEDIA_MANIFEST
                                                 "\",\"digest\":\"%s\",\"size\":19,\"annotations\":{\"" OCI_ANNOTATION_REF_NAME
                                                 "\":\"v1\"}}]}", fake);
        g_assert_true(g_file_set_contents(index_path, index, -1, NULL));
        g_assert_cmpint(image_import_oci_layout(e.store, layout, "v1", &img, &err), ==, -EBADMSG);
        g_assert_cmpstr(err.bus_error, ==, BUS_ERROR_DIGEST_MISMATCH);
        g_assert_cmpuint(count_blobs(&e), ==, 0);

        /* a blob larger than its descriptor */
        g_autofree char *index2 = g_strdup_printf("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" OCI_MEDIA_MANIFEST
                                                  "\",\"digest\":\"%s\",\"size\":3,\"annotations\":{\"" OCI_ANNOTATION_REF_NAME
                                                  "\":\"v1\"}}]}", fake);
        g_assert_true(g_file_set_contents(index_path, index2, -1, NULL));
        g_assert_cmpint(image_import_oci_layout(e.store, layout, "v1", &img, &err), ==, -EBADMSG);
        g_assert_cmpuint(count_blobs(&e), ==, 0);
        (void) blob;
        env_teardown(&e);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/image-store/layout-created", test_layout_created);
        g_test_add_func("/image-store/blobs-verified", test_blobs_verified);
        g_test_add_func("/image-store/import-list-remove-prune", test_import_list_remove_prune);
        g_test_add_func("/image-store/import-hostile-layout", test_import_hostile_layout);
        return g_test_run();
}
