/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Taking the eBPF object out of one image layer: tar, tar+gzip (OCI and
 * Docker media types) and bumblebee raw layers, hostile archives built in
 * memory with libarchive's write API, size caps, and the ELF checks. Every
 * refused layer must leave the output file empty. */
#include <archive.h>
#include <archive_entry.h>
#include <elf.h>
#include <fcntl.h>
#include <glib.h>
#include <inttypes.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "layer.h"

#define KiB 1024ULL
#define MiB (1024ULL * 1024ULL)

/* ---- helpers ---- */

static int memfd(const char *name) {
        int fd = memfd_create(name, MFD_CLOEXEC);
        g_assert_cmpint(fd, >=, 0);
        return fd;
}

static void write_all_or_die(int fd, const void *p, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, p, n);
                g_assert_cmpint(k, >, 0);
                p = (const uint8_t *) p + k;
                n -= (size_t) k;
        }
}

static int bytes_fd(const void *data, size_t size) {
        int fd = memfd("layer");
        write_all_or_die(fd, data, size);
        return fd;
}

static uint64_t fd_size(int fd) {
        struct stat st;
        g_assert_cmpint(fstat(fd, &st), ==, 0);
        return (uint64_t) st.st_size;
}

static GBytes *fd_contents(int fd) {
        uint64_t size = fd_size(fd);
        uint8_t *buf = g_malloc(size + 1);
        g_assert_cmpint(pread(fd, buf, size, 0), ==, (ssize_t) size);
        return g_bytes_new_take(buf, size);
}

/* An output file that already holds something: extraction must replace it. */
static int junk_out(void) {
        static const char junk[] = "left over from an earlier extraction";
        int fd = bytes_fd(junk, sizeof junk);
        return fd;
}

/* A built BPF object, or NULL after g_test_skip() when bpf/ is not built. */
static GBytes *build_file(const char *name) {
        g_autofree char *path = g_build_filename(g_getenv("BPFHUB_BUILD_ROOT") ?: ".", "bpf", name, NULL);
        g_autoptr(GError) err = NULL;
        char *data;
        gsize size;

        if (!g_file_get_contents(path, &data, &size, &err)) {
                g_autofree char *msg = g_strdup_printf("%s is not built: %s", path, err->message);
                g_test_skip(msg);
                return NULL;
        }
        return g_bytes_new_take(data, size);
}

static GBytes *counter_object(void) {
        return build_file("xdp-counter.bpf.o");
}

/* A copy of the object with one byte set. */
static GBytes *patched(GBytes *object, size_t offset, const void *value, size_t n) {
        gsize size;
        const uint8_t *p = g_bytes_get_data(object, &size);
        uint8_t *copy = g_memdup2(p, size);

        g_assert_cmpuint(offset + n, <=, size);
        memcpy(copy + offset, value, n);
        return g_bytes_new_take(copy, size);
}

typedef enum TarFormat {
        TAR_PAX,
        TAR_USTAR,
} TarFormat;

typedef struct Entry {
        const char *name;
        unsigned type;          /* AE_IF*; 0: a regular file */
        GBytes *data;           /* a regular file's contents */
        uint64_t zeros;         /* or this many zero bytes */
        const char *symlink;
        const char *hardlink;
        bool sparse;            /* a hole after the data */
} Entry;

static void archive_write_freep(struct archive **a) {
        if (*a)
                archive_write_free(*a);
}

/* A tar (gzip-compressed or not) of the entries in a memory file. */
static int tar_layer(const Entry *entries, size_t n, bool gzip, TarFormat format) {
        _cleanup_(archive_write_freep) struct archive *a = archive_write_new();
        int fd = memfd("layer.tar");

        g_assert_nonnull(a);
        g_assert_cmpint(format == TAR_PAX ? archive_write_set_format_pax_restricted(a) : archive_write_set_format_ustar(a),
                        ==, ARCHIVE_OK);
        g_assert_cmpint(gzip ? archive_write_add_filter_gzip(a) : archive_write_add_filter_none(a), ==, ARCHIVE_OK);
        g_assert_cmpint(archive_write_open_fd(a, fd), ==, ARCHIVE_OK);

        for (size_t i = 0; i < n; i++) {
                struct archive_entry *e = archive_entry_new();
                const Entry *x = &entries[i];
                unsigned type = x->type ?: AE_IFREG;
                uint64_t size = 0;

                archive_entry_set_pathname(e, x->name);
                archive_entry_set_filetype(e, type);
                archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : 0644);
                archive_entry_set_mtime(e, 1700000000, 0);
                if (x->symlink)
                        archive_entry_set_symlink(e, x->symlink);
                if (x->hardlink)
                        archive_entry_set_hardlink(e, x->hardlink);
                if (type == AE_IFCHR || type == AE_IFBLK)
                        archive_entry_set_rdev(e, makedev(1, 3));
                if (type == AE_IFREG && !x->hardlink)
                        size = x->data ? g_bytes_get_size(x->data) : x->zeros;
                if (x->sparse) {
                        /* The data, then a hole of the same length (the map must fit the size set first). */
                        archive_entry_set_size(e, (la_int64_t) size * 2);
                        archive_entry_sparse_add_entry(e, 0, (la_int64_t) size);
                        g_assert_cmpint(archive_entry_sparse_count(e), ==, 1);
                } else
                        archive_entry_set_size(e, (la_int64_t) size);
                g_assert_cmpint(archive_write_header(a, e), ==, ARCHIVE_OK);

                if (x->data)
                        g_assert_cmpint(archive_write_data(a, g_bytes_get_data(x->data, NULL), g_bytes_get_size(x->data)),
                                        ==, (la_ssize_t) g_bytes_get_size(x->data));
                else if (x->zeros > 0) {
                        g_autofree uint8_t *chunk = g_malloc0(MiB);
                        for (uint64_t left = x->zeros; left > 0;) {
                                size_t k = (size_t) MIN(left, MiB);
                                g_assert_cmpint(archive_write_data(a, chunk, k), ==, (la_ssize_t) k);
                                left -= k;
                        }
                }
                archive_entry_free(e);
        }
        g_assert_cmpint(archive_write_close(a), ==, ARCHIVE_OK);
        return fd;
}

/* The object, gzip-compressed, without a tar around it. */
static int gzip_raw(const void *data, size_t size) {
        _cleanup_(archive_write_freep) struct archive *a = archive_write_new();
        struct archive_entry *e = archive_entry_new();
        int fd = memfd("layer.gz");

        g_assert_cmpint(archive_write_set_format_raw(a), ==, ARCHIVE_OK);
        g_assert_cmpint(archive_write_add_filter_gzip(a), ==, ARCHIVE_OK);
        g_assert_cmpint(archive_write_open_fd(a, fd), ==, ARCHIVE_OK);
        archive_entry_set_pathname(e, "data");
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_size(e, (la_int64_t) size);
        g_assert_cmpint(archive_write_header(a, e), ==, ARCHIVE_OK);
        g_assert_cmpint(archive_write_data(a, data, size), ==, (la_ssize_t) size);
        g_assert_cmpint(archive_write_close(a), ==, ARCHIVE_OK);
        archive_entry_free(e);
        return fd;
}

static int one_file_layer(const char *name, GBytes *data, bool gzip) {
        const Entry e = { name, .data = data };
        return tar_layer(&e, 1, gzip, TAR_PAX);
}

static void assert_extracts(int layer_fd, const char *media_type, uint64_t max_size, GBytes *expected) {
        _cleanup_close_ int out = junk_out();
        g_autoptr(GBytes) got = NULL;
        ErrorInfo e = {};
        int r;

        /* The layer's file position does not matter. */
        (void) lseek(layer_fd, 0, SEEK_END);
        r = layer_extract_elf(layer_fd, media_type, out, max_size, &e);
        if (r < 0)
                g_error("extraction (%s) failed: %d %s", media_type, r, e.message);
        g_assert_cmpint(r, ==, 0);
        g_assert_cmpint(lseek(out, 0, SEEK_CUR), ==, 0);
        got = fd_contents(out);
        g_assert_true(g_bytes_equal(got, expected));
        g_assert_cmpint(elf_check_bpf_object(out, &e), ==, 0);
}

static void assert_fails(int layer_fd, const char *media_type, uint64_t max_size, int error, const char *bus_error,
                         const char *message_part) {
        _cleanup_close_ int out = junk_out();
        ErrorInfo e = {};
        int r;

        r = layer_extract_elf(layer_fd, media_type, out, max_size, &e);
        if (media_type) {
                g_autofree char *escaped = g_strescape(media_type, NULL);
                g_test_message("%s: %s", escaped, e.message);
        } else
                g_test_message("(no media type): %s", e.message);
        if (r != error)
                g_error("expected %d (%s), got %d: %s", error, strerror(-error), r, e.message);
        g_assert_cmpint(e.error, ==, error);
        g_assert_cmpstr(e.bus_error, ==, bus_error);
        if (!strstr(e.message, message_part))
                g_error("message '%s' does not mention '%s'", e.message, message_part);
        g_assert_true(g_utf8_validate(e.message, -1, NULL));
        g_assert_cmpuint(fd_size(out), ==, 0);
}

static void assert_invalid(int layer_fd, const char *media_type, const char *message_part) {
        assert_fails(layer_fd, media_type, LAYER_ELF_SIZE_MAX, -EBADMSG, BUS_ERROR_INVALID_BYTECODE, message_part);
}

static void assert_too_big(int layer_fd, const char *media_type, uint64_t max_size, const char *message_part) {
        assert_fails(layer_fd, media_type, max_size, -E2BIG, BUS_ERROR_LIMITS_EXCEEDED, message_part);
}

/* ---- good layers ---- */

static void test_oci_tar_gzip(void) {
        g_autoptr(GBytes) obj = counter_object();
        if (!obj)
                return;
        _cleanup_close_ int fd = one_file_layer("xdp-counter.bpf.o", obj, true);
        assert_extracts(fd, LAYER_MEDIA_OCI_TAR_GZIP, LAYER_ELF_SIZE_MAX, obj);
}

static void test_docker_tar_gzip(void) {
        g_autoptr(GBytes) obj = counter_object();
        if (!obj)
                return;
        /* ustar, with the object under directories, as some builders write it. */
        const Entry entries[] = {
                { "./", AE_IFDIR },
                { "./bpf/", AE_IFDIR },
                { "./bpf/xdp_counter_bpfel.o", .data = obj },
        };
        _cleanup_close_ int fd = tar_layer(entries, G_N_ELEMENTS(entries), true, TAR_USTAR);
        assert_extracts(fd, LAYER_MEDIA_DOCKER_TAR_GZIP, LAYER_ELF_SIZE_MAX, obj);
}

static void test_oci_tar(void) {
        g_autoptr(GBytes) obj = counter_object();
        if (!obj)
                return;
        _cleanup_close_ int fd = one_file_layer("bpf_x86_bpfel.o", obj, false);
        assert_extracts(fd, LAYER_MEDIA_OCI_TAR, LAYER_ELF_SIZE_MAX, obj);
}

static void test_bumblebee_raw(void) {
        g_autoptr(GBytes) obj = counter_object();
        if (!obj)
                return;
        _cleanup_close_ int fd = bytes_fd(g_bytes_get_data(obj, NULL), g_bytes_get_size(obj));
        assert_extracts(fd, LAYER_MEDIA_BUMBLEBEE, LAYER_ELF_SIZE_MAX, obj);
}

/* A layer exactly at the cap is fine; one byte over is not. */
static void test_exact_cap(void) {
        g_autoptr(GBytes) obj = counter_object();
        if (!obj)
                return;
        uint64_t size = g_bytes_get_size(obj);
        _cleanup_close_ int tgz = one_file_layer("a.o", obj, true);
        _cleanup_close_ int raw = bytes_fd(g_bytes_get_data(obj, NULL), size);

        assert_extracts(tgz, LAYER_MEDIA_OCI_TAR_GZIP, size, obj);
        assert_too_big(tgz, LAYER_MEDIA_OCI_TAR_GZIP, size - 1, "at most");
        assert_extracts(raw, LAYER_MEDIA_BUMBLEBEE, size, obj);
        assert_too_big(raw, LAYER_MEDIA_BUMBLEBEE, size - 1, "at most");
}

/* ---- hostile tar entries ---- */

static void test_unsafe_paths(void) {
        static const char *const paths[] = {
                "../evil.o", "a/../../evil.o", "/etc/evil.o", "a/..", "..", "./../evil.o", "a/b/../../../evil.o",
        };
        g_autoptr(GBytes) obj = counter_object();
        if (!obj)
                return;

        for (size_t i = 0; i < G_N_ELEMENTS(paths); i++)
                for (int gz = 0; gz <= 1; gz++) {
                        _cleanup_close_ int fd = one_file_layer(paths[i], obj, gz);
                        assert_invalid(fd, gz ? LAYER_MEDIA_OCI_TAR_GZIP : LAYER_MEDIA_OCI_TAR, "unsafe path");
                        assert_invalid(fd, gz ? LAYER_MEDIA_OCI_TAR_GZIP : LAYER_MEDIA_OCI_TAR, paths[i]);
                }

        /* A directory entry that climbs out is refused too, even before the file. */
        const Entry entries[] = {
                { "../up/", AE_IFDIR },
                { "ok.o", .data = obj },
        };
        _cleanup_close_ int fd = tar_layer(entries, G_N_ELEMENTS(entries), true, TAR_USTAR);
        assert_invalid(fd, LAYER_MEDIA_OCI_TAR_GZIP, "'../up/'");

        /* "..." and "..x" are ordinary names. */
        const Entry dots[] = {
                { "...", AE_IFDIR },
                { ".../..x.o", .data = obj },
        };
        _cleanup_close_ int ok = tar_layer(dots, G_N_ELEMENTS(dots), true, TAR_PAX);
        assert_extracts(ok, LAYER_MEDIA_OCI_TAR_GZIP, LAYER_ELF_SIZE_MAX, obj);
}

static void test_special_entries(void) {
        g_autoptr(GBytes) obj = counter_object();
        if (!obj)
                return;
        static const struct {
                Entry entry;
                const char *part;
        } cases[] = {
                { { "evil.o", AE_IFLNK, .symlink = "/etc/shadow" }, "'evil.o' is a symbolic link" },
                { { "evil.o", AE_IFLNK, .symlink = "ok.o" }, "symbolic link" },
                { { "evil.o", AE_IFCHR }, "'evil.o' is a character device" },
                { { "evil.o", AE_IFBLK }, "'evil.o' is a block device" },
                { { "evil.o", AE_IFIFO }, "'evil.o' is a FIFO" },
                { { "evil.o", .hardlink = "/etc/shadow" }, "'evil.o' is a hard link" },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++)
                for (int gz = 0; gz <= 1; gz++) {
                        /* Alone, and after a good object. */
                        const Entry after[] = { { "ok.o", .data = obj }, cases[i].entry };
                        _cleanup_close_ int alone = tar_layer(&cases[i].entry, 1, gz, TAR_PAX);
                        _cleanup_close_ int second = tar_layer(after, 2, gz, TAR_USTAR);
                        const char *media = gz ? LAYER_MEDIA_OCI_TAR_GZIP : LAYER_MEDIA_OCI_TAR;

                        assert_invalid(alone, media, cases[i].part);
                        assert_invalid(second, media, cases[i].part);
                }

        /* A hard link to the object itself is still a hard link. */
        const Entry link[] = { { "a.o", .data = obj }, { "b.o", .hardlink = "a.o" } };
        _cleanup_close_ int fd = tar_layer(link, 2, true, TAR_PAX);
        assert_invalid(fd, LAYER_MEDIA_OCI_TAR_GZIP, "hard link (to 'a.o')");
}

static void test_two_files(void) {
        g_autoptr(GBytes) obj = counter_object();
        if (!obj)
                return;
        const Entry two[] = { { "a.o", .data = obj }, { "b.o", .data = obj } };
        _cleanup_close_ int fd = tar_layer(two, 2, true, TAR_PAX);
        assert_invalid(fd, LAYER_MEDIA_OCI_TAR_GZIP,
                       "layer holds more than one file (a.o, b.o); a bytecode layer holds exactly one eBPF object");

        /* Names that are not UTF-8 are escaped, so the message can go on the bus. */
        const Entry odd[] = { { "a.o", .data = obj }, { "\xff\x01" "evil\\.o", .data = obj } };
        _cleanup_close_ int fd2 = tar_layer(odd, 2, false, TAR_USTAR);
        assert_invalid(fd2, LAYER_MEDIA_OCI_TAR, "(a.o, \\xff\\x01evil\\x5c.o)");

        /* A very long name is cut, and the sentence still ends. */
        g_autofree char *long_name = g_strnfill(3000, 'n');
        const Entry longer[] = { { "a.o", .data = obj }, { long_name, .data = obj } };
        _cleanup_close_ int fd3 = tar_layer(longer, 2, true, TAR_PAX);
        assert_invalid(fd3, LAYER_MEDIA_OCI_TAR_GZIP, "...); a bytecode layer holds exactly one eBPF object.");
}

static void test_empty(void) {
        _cleanup_close_ int empty_tar = tar_layer(NULL, 0, false, TAR_USTAR);
        _cleanup_close_ int empty_tgz = tar_layer(NULL, 0, true, TAR_PAX);
        const Entry dirs[] = { { "a/", AE_IFDIR }, { "a/b/", AE_IFDIR } };
        _cleanup_close_ int only_dirs = tar_layer(dirs, 2, true, TAR_PAX);
        _cleanup_close_ int zero_bytes = memfd("empty");

        assert_invalid(empty_tar, LAYER_MEDIA_OCI_TAR, "holds no file");
        assert_invalid(empty_tgz, LAYER_MEDIA_OCI_TAR_GZIP, "holds no file");
        assert_invalid(only_dirs, LAYER_MEDIA_DOCKER_TAR_GZIP, "holds no file");
        assert_invalid(zero_bytes, LAYER_MEDIA_OCI_TAR_GZIP, "not gzip-compressed");
        assert_invalid(zero_bytes, LAYER_MEDIA_OCI_TAR, "not a readable tar archive");
        assert_invalid(zero_bytes, LAYER_MEDIA_BUMBLEBEE, "not an ELF file");

        /* An empty regular file is not an object. */
        const Entry nothing[] = { { "empty.o" } };
        _cleanup_close_ int empty_file = tar_layer(nothing, 1, true, TAR_PAX);
        assert_invalid(empty_file, LAYER_MEDIA_OCI_TAR_GZIP, "not an ELF file");
}

static void test_sparse(void) {
        g_autoptr(GBytes) obj = counter_object();
        if (!obj)
                return;
        const Entry sparse[] = { { "sparse.o", .data = obj, .sparse = true } };
        _cleanup_close_ int fd = tar_layer(sparse, 1, true, TAR_PAX);
        assert_invalid(fd, LAYER_MEDIA_OCI_TAR_GZIP, "sparse");
}

/* ---- sizes ---- */

/* 65 MiB of zeros compress to almost nothing: the header's size is refused
 * before any of it is decompressed. */
static void test_zeros_over_cap(void) {
        const Entry big[] = { { "zeros.o", .zeros = 65 * MiB } };
        _cleanup_close_ int fd = tar_layer(big, 1, true, TAR_PAX);

        g_assert_cmpuint(fd_size(fd), <, 1 * MiB);
        assert_too_big(fd, LAYER_MEDIA_OCI_TAR_GZIP, LAYER_ELF_SIZE_MAX, "is 68157440 bytes");
        assert_too_big(fd, LAYER_MEDIA_OCI_TAR_GZIP, LAYER_ELF_SIZE_MAX, "at most 67108864 bytes");
}

/* The raw bumblebee layer is capped as well. */
static void test_raw_over_cap(void) {
        _cleanup_close_ int fd = memfd("big");

        g_assert_cmpint(ftruncate(fd, (off_t) (LAYER_ELF_SIZE_MAX + 1)), ==, 0);
        assert_too_big(fd, LAYER_MEDIA_BUMBLEBEE, LAYER_ELF_SIZE_MAX, "67108865 bytes");
}

/* Thousands of tiny entries: the whole decompressed stream is capped, not
 * only the one file. */
static void test_stream_cap(void) {
        g_autoptr(GBytes) obj = counter_object();
        if (!obj)
                return;
        size_t n = 3000;
        g_autofree Entry *entries = g_new0(Entry, n + 1);
        g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);

        for (size_t i = 0; i < n; i++) {
                char *name = g_strdup_printf("d%05zu/", i);
                g_ptr_array_add(names, name);
                entries[i] = (Entry) { name, AE_IFDIR };
        }
        entries[n] = (Entry) { "x.o", .data = obj };
        _cleanup_close_ int fd = tar_layer(entries, n + 1, true, TAR_USTAR);

        /* 3000 headers of 512 bytes: over 1 MiB + the object's size ... */
        assert_too_big(fd, LAYER_MEDIA_OCI_TAR_GZIP, g_bytes_get_size(obj), "tar stream is more than");
        /* ... but well within 1 MiB + 64 MiB. */
        assert_extracts(fd, LAYER_MEDIA_OCI_TAR_GZIP, LAYER_ELF_SIZE_MAX, obj);
}

/* Patches a ustar header's size field and fixes its checksum. */
static void ustar_set_size(int fd, off_t header, uint64_t size) {
        uint8_t h[512];
        unsigned sum = 0;

        g_assert_cmpint(pread(fd, h, sizeof h, header), ==, (ssize_t) sizeof h);
        g_assert_cmpint(memcmp(h + 257, "ustar", 5), ==, 0);
        g_assert_cmpint(snprintf((char *) h + 124, 12, "%011" PRIo64, size), ==, 11);
        memset(h + 148, ' ', 8);
        for (size_t i = 0; i < sizeof h; i++)
                sum += h[i];
        g_assert_cmpint(snprintf((char *) h + 148, 8, "%06o", sum), ==, 6);
        h[155] = ' ';
        g_assert_cmpint(pwrite(fd, h, sizeof h, header), ==, (ssize_t) sizeof h);
}

/* A header that claims more than the archive holds: libarchive reads what
 * the header says, runs out, and the layer is damaged, not half-extracted. */
static void test_lying_header(void) {
        g_autoptr(GBytes) obj = counter_object();
        if (!obj)
                return;
        const Entry e[] = { { "liar.o", .data = obj } };
        _cleanup_close_ int fd = tar_layer(e, 1, false, TAR_USTAR);

        ustar_set_size(fd, 0, 8 * MiB);
        assert_invalid(fd, LAYER_MEDIA_OCI_TAR, "damaged archive");
        /* ... and a claim over the cap is refused from the header. */
        ustar_set_size(fd, 0, 70 * MiB);
        assert_too_big(fd, LAYER_MEDIA_OCI_TAR, LAYER_ELF_SIZE_MAX, "is 73400320 bytes");
        /* A claim that is short leaves the rest of the object where the next
         * header should be: a damaged archive, not a cut object. */
        ustar_set_size(fd, 0, 100);
        assert_invalid(fd, LAYER_MEDIA_OCI_TAR, "damaged archive");
}

/* ---- compression and media types ---- */

static void test_compression_mismatch(void) {
        g_autoptr(GBytes) obj = counter_object();
        if (!obj)
                return;
        _cleanup_close_ int plain = one_file_layer("a.o", obj, false);
        _cleanup_close_ int gz = one_file_layer("a.o", obj, true);

        assert_invalid(plain, LAYER_MEDIA_OCI_TAR_GZIP,
                       "The layer is not gzip-compressed though its media type (" LAYER_MEDIA_OCI_TAR_GZIP ") says it is.");
        assert_invalid(plain, LAYER_MEDIA_DOCKER_TAR_GZIP, "not gzip-compressed");
        assert_invalid(gz, LAYER_MEDIA_OCI_TAR, "is gzip-compressed though its media type");

        /* Neither tar nor gzip. */
        static const char garbage[] = "GARBAGE, not an archive at all. GARBAGE, not an archive at all.";
        _cleanup_close_ int junk = bytes_fd(garbage, sizeof garbage);
        assert_invalid(junk, LAYER_MEDIA_OCI_TAR_GZIP, "not gzip-compressed");
        assert_invalid(junk, LAYER_MEDIA_OCI_TAR, "not a readable tar archive");
}

static void test_gzip_of_garbage(void) {
        g_autofree uint8_t *noise = g_malloc(64 * KiB);
        GRand *rand = g_rand_new_with_seed(42);

        for (size_t i = 0; i < 64 * KiB; i++)
                noise[i] = (uint8_t) g_rand_int(rand);
        g_rand_free(rand);

        _cleanup_close_ int fd = gzip_raw(noise, 64 * KiB);
        assert_invalid(fd, LAYER_MEDIA_OCI_TAR_GZIP, "not a readable gzip-compressed tar archive");

        /* The object gzip-compressed but not in a tar. */
        g_autoptr(GBytes) obj = counter_object();
        if (!obj)
                return;
        _cleanup_close_ int elf_gz = gzip_raw(g_bytes_get_data(obj, NULL), g_bytes_get_size(obj));
        assert_invalid(elf_gz, LAYER_MEDIA_OCI_TAR_GZIP, "not a readable gzip-compressed tar archive");

        /* gzip magic followed by garbage. */
        static const uint8_t bad_gzip[] = { 0x1f, 0x8b, 0x08, 0x00, 0xde, 0xad, 0xbe, 0xef, 0x00, 0x03, 0x01, 0x02, 0x03 };
        _cleanup_close_ int bad = bytes_fd(bad_gzip, sizeof bad_gzip);
        assert_invalid(bad, LAYER_MEDIA_OCI_TAR_GZIP, "The layer");
}

static void test_truncated_gzip(void) {
        g_autoptr(GBytes) obj = counter_object();
        if (!obj)
                return;
        _cleanup_close_ int fd = one_file_layer("a.o", obj, true);
        uint64_t full = fd_size(fd);

        g_assert_cmpint(ftruncate(fd, (off_t) (full / 2)), ==, 0);
        assert_invalid(fd, LAYER_MEDIA_OCI_TAR_GZIP, "The layer");
        g_assert_cmpint(ftruncate(fd, 20), ==, 0);
        assert_invalid(fd, LAYER_MEDIA_OCI_TAR_GZIP, "The layer");
        g_assert_cmpint(ftruncate(fd, 2), ==, 0);
        assert_invalid(fd, LAYER_MEDIA_OCI_TAR_GZIP, "The layer");

        /* A plain tar cut in the middle of the object. */
        _cleanup_close_ int plain = one_file_layer("a.o", obj, false);
        g_assert_cmpint(ftruncate(plain, 512 + (off_t) g_bytes_get_size(obj) / 2), ==, 0);
        assert_invalid(plain, LAYER_MEDIA_OCI_TAR, "damaged archive");
}

static void test_unknown_media_type(void) {
        g_autoptr(GBytes) obj = counter_object();
        if (!obj)
                return;
        _cleanup_close_ int fd = one_file_layer("a.o", obj, true);

        assert_fails(fd, "application/vnd.oci.image.layer.v1.tar+zstd", LAYER_ELF_SIZE_MAX, -EMEDIUMTYPE,
                     BUS_ERROR_INVALID_BYTECODE, "'application/vnd.oci.image.layer.v1.tar+zstd'");
        assert_fails(fd, "application/octet-stream", LAYER_ELF_SIZE_MAX, -EMEDIUMTYPE, BUS_ERROR_INVALID_BYTECODE,
                     "application/octet-stream");
        assert_fails(fd, "", LAYER_ELF_SIZE_MAX, -EMEDIUMTYPE, BUS_ERROR_INVALID_BYTECODE, "''");
        assert_fails(fd, NULL, LAYER_ELF_SIZE_MAX, -EMEDIUMTYPE, BUS_ERROR_INVALID_BYTECODE, "(none)");
        assert_fails(fd, "application/\xc3", LAYER_ELF_SIZE_MAX, -EMEDIUMTYPE, BUS_ERROR_INVALID_BYTECODE, "\\xc3");
        /* Media types are compared exactly. */
        assert_fails(fd, LAYER_MEDIA_OCI_TAR_GZIP "; x=y", LAYER_ELF_SIZE_MAX, -EMEDIUMTYPE, BUS_ERROR_INVALID_BYTECODE,
                     "carry no eBPF object");
}

/* ---- the ELF checks ---- */

/* The object as a raw layer and as a tar+gzip layer: both refused alike. */
static void assert_object_refused(GBytes *object, const char *message_part) {
        _cleanup_close_ int raw = bytes_fd(g_bytes_get_data(object, NULL), g_bytes_get_size(object));
        _cleanup_close_ int tgz = one_file_layer("obj.o", object, true);
        ErrorInfo e = {};

        assert_invalid(raw, LAYER_MEDIA_BUMBLEBEE, message_part);
        assert_invalid(tgz, LAYER_MEDIA_OCI_TAR_GZIP, message_part);
        /* And elf_check_bpf_object() on its own. */
        g_assert_cmpint(elf_check_bpf_object(raw, &e), ==, -EBADMSG);
        g_assert_cmpstr(e.bus_error, ==, BUS_ERROR_INVALID_BYTECODE);
        g_assert_nonnull(strstr(e.message, message_part));
}

static void test_elf_not_elf(void) {
        g_autoptr(GBytes) text = g_bytes_new_static("this is not an ELF file\n", 24);
        g_autoptr(GBytes) magic_only = g_bytes_new_static(ELFMAG, SELFMAG);

        assert_object_refused(text, "The object is not an ELF file.");
        assert_object_refused(magic_only, "truncated ELF file");
}

static void test_elf_host_binary(void) {
        g_autoptr(GError) err = NULL;
        char *data;
        gsize size;

        if (!g_file_get_contents("/bin/true", &data, &size, &err)) {
                g_test_skip(err->message);
                return;
        }
        g_autoptr(GBytes) bin = g_bytes_new_take(data, size);
#if defined(__x86_64__)
        assert_object_refused(bin, "ELF file for x86-64 (machine 62), not an eBPF object (EM_BPF)");
#else
        assert_object_refused(bin, "not an eBPF object (EM_BPF)");
#endif
}

static void test_elf_wrong_endian(void) {
        const bool host_le = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;
        g_autoptr(GBytes) obj = counter_object();
        if (!obj)
                return;
        const uint8_t other = host_le ? ELFDATA2MSB : ELFDATA2LSB;
        g_autoptr(GBytes) flipped = patched(obj, EI_DATA, &other, 1);

        assert_object_refused(flipped, host_le ? "object is big-endian (bpfeb) but this host is little-endian"
                                               : "object is little-endian (bpfel) but this host is big-endian");

        /* The real object built for the other byte order. */
        g_autoptr(GBytes) real = build_file(host_le ? "xdp-counter.bpfeb.o" : "xdp-counter.bpf.o");
        if (!real)
                return;
        assert_object_refused(real, host_le ? "object is big-endian (bpfeb) but this host is little-endian"
                                            : "object is little-endian (bpfel) but this host is big-endian");

        const uint8_t nonsense = 7;
        g_autoptr(GBytes) bad = patched(obj, EI_DATA, &nonsense, 1);
        assert_object_refused(bad, "byte order is 7");
}

static void test_elf_wrong_type(void) {
        g_autoptr(GBytes) obj = counter_object();
        if (!obj)
                return;
        const uint16_t exec = ET_EXEC, dyn = ET_DYN, x86 = EM_X86_64;
        const uint8_t class32 = ELFCLASS32;
        g_autoptr(GBytes) as_exec = patched(obj, offsetof(Elf64_Ehdr, e_type), &exec, sizeof exec);
        g_autoptr(GBytes) as_dyn = patched(obj, offsetof(Elf64_Ehdr, e_type), &dyn, sizeof dyn);
        g_autoptr(GBytes) as_x86 = patched(obj, offsetof(Elf64_Ehdr, e_machine), &x86, sizeof x86);
        g_autoptr(GBytes) as_32 = patched(obj, EI_CLASS, &class32, 1);

        assert_object_refused(as_exec, "an executable (ET_EXEC), not a relocatable eBPF object (ET_REL)");
        assert_object_refused(as_dyn, "(ET_DYN)");
        assert_object_refused(as_x86, "(machine 62), not an eBPF object (EM_BPF)");
        assert_object_refused(as_32, "32-bit");
}

static void test_elf_damaged(void) {
        g_autoptr(GBytes) obj = counter_object();
        if (!obj)
                return;
        gsize size = g_bytes_get_size(obj);
        /* clang puts the section header table at the end: cut it off. */
        g_autoptr(GBytes) cut = g_bytes_new_from_bytes(obj, 0, size / 2);
        const uint64_t far = UINT64_MAX - 8;
        g_autoptr(GBytes) far_table = patched(obj, offsetof(Elf64_Ehdr, e_shoff), &far, sizeof far);
        const uint64_t none = 0;
        g_autoptr(GBytes) no_table = patched(obj, offsetof(Elf64_Ehdr, e_shoff), &none, sizeof none);
        const uint16_t entsize = 12;
        g_autoptr(GBytes) bad_entsize = patched(obj, offsetof(Elf64_Ehdr, e_shentsize), &entsize, sizeof entsize);
        const uint16_t many = 0xff00;
        g_autoptr(GBytes) too_many = patched(obj, offsetof(Elf64_Ehdr, e_shnum), &many, sizeof many);

        assert_object_refused(cut, "section header table");
        assert_object_refused(far_table, "section header table");
        assert_object_refused(no_table, "section header table");
        assert_object_refused(bad_entsize, "section header table");
        assert_object_refused(too_many, "section header table");
}

static void test_elf_good(void) {
        g_autoptr(GBytes) obj = counter_object();
        if (!obj)
                return;
        _cleanup_close_ int fd = bytes_fd(g_bytes_get_data(obj, NULL), g_bytes_get_size(obj));
        ErrorInfo e = {};

        g_assert_cmpint(elf_check_bpf_object(fd, &e), ==, 0);

        /* Other built objects pass too. */
        static const char *const others[] = { "test-globals.bpf.o", "feature-probes.bpf.o" };
        for (size_t i = 0; i < G_N_ELEMENTS(others); i++) {
                g_autoptr(GBytes) o = build_file(others[i]);
                if (!o)
                        return;
                _cleanup_close_ int ofd = bytes_fd(g_bytes_get_data(o, NULL), g_bytes_get_size(o));
                g_assert_cmpint(elf_check_bpf_object(ofd, &e), ==, 0);
        }
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);

        g_test_add_func("/layer/good/oci-tar-gzip", test_oci_tar_gzip);
        g_test_add_func("/layer/good/docker-tar-gzip", test_docker_tar_gzip);
        g_test_add_func("/layer/good/oci-tar", test_oci_tar);
        g_test_add_func("/layer/good/bumblebee-raw", test_bumblebee_raw);
        g_test_add_func("/layer/good/exact-cap", test_exact_cap);

        g_test_add_func("/layer/hostile/unsafe-paths", test_unsafe_paths);
        g_test_add_func("/layer/hostile/special-entries", test_special_entries);
        g_test_add_func("/layer/hostile/two-files", test_two_files);
        g_test_add_func("/layer/hostile/empty", test_empty);
        g_test_add_func("/layer/hostile/sparse", test_sparse);

        g_test_add_func("/layer/size/zeros-over-cap", test_zeros_over_cap);
        g_test_add_func("/layer/size/raw-over-cap", test_raw_over_cap);
        g_test_add_func("/layer/size/stream-cap", test_stream_cap);
        g_test_add_func("/layer/size/lying-header", test_lying_header);

        g_test_add_func("/layer/format/compression-mismatch", test_compression_mismatch);
        g_test_add_func("/layer/format/gzip-of-garbage", test_gzip_of_garbage);
        g_test_add_func("/layer/format/truncated-gzip", test_truncated_gzip);
        g_test_add_func("/layer/format/unknown-media-type", test_unknown_media_type);

        g_test_add_func("/layer/elf/not-elf", test_elf_not_elf);
        g_test_add_func("/layer/elf/host-binary", test_elf_host_binary);
        g_test_add_func("/layer/elf/wrong-endian", test_elf_wrong_endian);
        g_test_add_func("/layer/elf/wrong-type", test_elf_wrong_type);
        g_test_add_func("/layer/elf/damaged", test_elf_damaged);
        g_test_add_func("/layer/elf/good", test_elf_good);

        return g_test_run();
}
