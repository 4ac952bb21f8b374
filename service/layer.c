/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <archive.h>
#include <archive_entry.h>
#include <elf.h>
#include <inttypes.h>
#include <sys/stat.h>

#include "layer.h"
#include "oci.h"

static void archive_freep(struct archive **a) {
        if (*a)
                archive_read_free(*a);
}

static int write_all(int fd, const void *p, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p = (const uint8_t *) p + k;
                n -= (size_t) k;
        }
        return 0;
}

static int reset(int fd) {
        if (ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) < 0)
                return -errno;
        return 0;
}

/* A raw layer (bumblebee): the blob is the object. */
static int copy_raw(int layer_fd, int out_fd, uint64_t max_size, ErrorInfo *error) {
        uint8_t buf[64 * 1024];
        uint64_t total = 0;
        off_t offset = 0;
        int r;

        for (;;) {
                ssize_t n = pread(layer_fd, buf, sizeof buf, offset);
                if (n < 0)
                        return error_info_set(error, errno, NULL, "Could not read the layer: %m");
                if (n == 0)
                        return 0;
                total += (uint64_t) n;
                if (total > max_size)
                        return error_info_set(error, E2BIG, BUS_ERROR_LIMITS_EXCEEDED,
                                              "The program layer is larger than %" PRIu64 " bytes.", max_size);
                r = write_all(out_fd, buf, (size_t) n);
                if (r < 0)
                        return error_info_set(error, r, NULL, "Could not write the extracted object: %m");
                offset += n;
        }
}

static bool path_is_safe(const char *path) {
        const char *p = path;

        if (isempty(path) || path[0] == '/')
                return false;
        for (;;) {
                size_t n = strcspn(p, "/");
                if (n == 2 && strneq(p, "..", 2))
                        return false;
                if (p[n] == '\0')
                        return true;
                p += n + 1;
        }
}

static const char *entry_kind(mode_t type) {
        switch (type) {
        case AE_IFLNK: return "a symbolic link";
        case AE_IFCHR: return "a character device";
        case AE_IFBLK: return "a block device";
        case AE_IFIFO: return "a FIFO";
        case AE_IFSOCK: return "a socket";
        default: return "not a regular file";
        }
}

static int extract_tar(int layer_fd, bool gzip, int out_fd, uint64_t max_size, ErrorInfo *error) {
        _cleanup_(archive_freep) struct archive *a = NULL;
        _cleanup_free_ char *found = NULL;
        struct archive_entry *entry;
        uint64_t total = 0;
        int r;

        if (lseek(layer_fd, 0, SEEK_SET) < 0)
                return error_info_set(error, errno, NULL, "Could not read the layer: %m");
        a = archive_read_new();
        if (!a)
                return error_info_set(error, ENOMEM, NULL, "Out of memory.");
        (void) archive_read_support_format_tar(a);
        if (gzip)
                (void) archive_read_support_filter_gzip(a);
        if (archive_read_open_fd(a, layer_fd, 64 * 1024) != ARCHIVE_OK)
                return error_info_set(error, EBADMSG, BUS_ERROR_INVALID_BYTECODE, "The layer is not a %s archive: %s",
                                      gzip ? "gzip-compressed tar" : "tar", archive_error_string(a) ?: "unknown format");
        /* A plain tar labelled tar+gzip is a publishing mistake worth naming. */
        if (gzip && archive_filter_code(a, 0) != ARCHIVE_FILTER_GZIP)
                return error_info_set(error, EBADMSG, BUS_ERROR_INVALID_BYTECODE,
                                      "The layer's media type says tar+gzip but the layer is not gzip-compressed.");

        for (;;) {
                const char *name;
                mode_t type;

                r = archive_read_next_header(a, &entry);
                if (r == ARCHIVE_EOF)
                        break;
                if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
                        return error_info_set(error, EBADMSG, BUS_ERROR_INVALID_BYTECODE, "The layer is a damaged archive: %s",
                                              archive_error_string(a) ?: "read error");
                name = archive_entry_pathname(entry);
                type = archive_entry_filetype(entry);
                if (!name || !path_is_safe(name))
                        return error_info_set(error, EBADMSG, BUS_ERROR_INVALID_BYTECODE,
                                              "The layer has an entry with an unsafe path '%.200s' (absolute or with '..').",
                                              strna(name));
                if (type == AE_IFDIR)
                        continue;
                if (archive_entry_hardlink(entry))
                        return error_info_set(error, EBADMSG, BUS_ERROR_INVALID_BYTECODE,
                                              "The layer's entry '%.200s' is a hard link; a bytecode layer holds one regular file.",
                                              name);
                if (type != AE_IFREG)
                        return error_info_set(error, EBADMSG, BUS_ERROR_INVALID_BYTECODE,
                                              "The layer's entry '%.200s' is %s; a bytecode layer holds one regular file.",
                                              name, entry_kind(type));
                if (found)
                        return error_info_set(error, EBADMSG, BUS_ERROR_INVALID_BYTECODE,
                                              "The layer holds more than one file (%.100s, %.100s); a bytecode layer holds exactly one eBPF object.",
                                              found, name);
                found = strdup(name);
                if (!found)
                        return error_info_set(error, ENOMEM, NULL, "Out of memory.");
                if (archive_entry_size_is_set(entry) && (uint64_t) archive_entry_size(entry) > max_size)
                        return error_info_set(error, E2BIG, BUS_ERROR_LIMITS_EXCEEDED,
                                              "The layer's file '%.200s' is %" PRIi64 " bytes; at most %" PRIu64 " are accepted.",
                                              name, (int64_t) archive_entry_size(entry), max_size);
                for (;;) {
                        const void *buf;
                        size_t size;
                        la_int64_t offset;

                        r = archive_read_data_block(a, &buf, &size, &offset);
                        if (r == ARCHIVE_EOF)
                                break;
                        if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
                                return error_info_set(error, EBADMSG, BUS_ERROR_INVALID_BYTECODE,
                                                      "The layer is a damaged archive: %s", archive_error_string(a) ?: "read error");
                        /* Count what really comes out, not what the header claims. */
                        total += size;
                        if (total > max_size)
                                return error_info_set(error, E2BIG, BUS_ERROR_LIMITS_EXCEEDED,
                                                      "The layer's file '%.200s' decompresses to more than %" PRIu64 " bytes.",
                                                      name, max_size);
                        if (offset < 0 || (uint64_t) offset != total - size)
                                return error_info_set(error, EBADMSG, BUS_ERROR_INVALID_BYTECODE,
                                                      "The layer's file '%.200s' is sparse; a bytecode object is not.", name);
                        r = write_all(out_fd, buf, size);
                        if (r < 0)
                                return error_info_set(error, r, NULL, "Could not write the extracted object: %m");
                }
        }
        if (!found)
                return error_info_set(error, EBADMSG, BUS_ERROR_INVALID_BYTECODE, "The layer holds no file.");
        return 0;
}

int layer_extract_elf(int layer_fd, const char *media_type, int out_fd, uint64_t max_size, ErrorInfo *error) {
        int r;

        r = reset(out_fd);
        if (r < 0)
                return error_info_set(error, r, NULL, "Could not prepare the output file: %m");

        if (streq(media_type, BUMBLEBEE_MEDIA_PROGRAM))
                r = copy_raw(layer_fd, out_fd, max_size, error);
        else if (streq(media_type, OCI_MEDIA_LAYER_TAR_GZIP) || streq(media_type, DOCKER_MEDIA_LAYER_TAR_GZIP))
                r = extract_tar(layer_fd, true, out_fd, max_size, error);
        else if (streq(media_type, OCI_MEDIA_LAYER_TAR))
                r = extract_tar(layer_fd, false, out_fd, max_size, error);
        else
                r = error_info_set(error, EMEDIUMTYPE, BUS_ERROR_INVALID_BYTECODE,
                                   "Layers of media type '%.128s' carry no eBPF object bpfhub can read.", media_type);
        if (r < 0) {
                (void) reset(out_fd);
                return r;
        }
        if (lseek(out_fd, 0, SEEK_SET) < 0)
                return error_info_set(error, errno, NULL, "Could not rewind the extracted object: %m");
        return 0;
}

int elf_check_bpf_object(int fd, ErrorInfo *error) {
        bool host_le = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;
        Elf64_Ehdr h;
        uint16_t type, machine;

        if (pread(fd, &h, sizeof h, 0) != (ssize_t) sizeof h || memcmp(h.e_ident, ELFMAG, SELFMAG) != 0)
                return error_info_set(error, EBADMSG, BUS_ERROR_INVALID_BYTECODE, "The image's bytecode is not an ELF file.");
        if (h.e_ident[EI_CLASS] != ELFCLASS64)
                return error_info_set(error, EBADMSG, BUS_ERROR_INVALID_BYTECODE,
                                      "The image's bytecode is a 32-bit ELF file; eBPF objects are 64-bit.");
        if (h.e_ident[EI_DATA] != (host_le ? ELFDATA2LSB : ELFDATA2MSB))
                return error_info_set(error, EBADMSG, BUS_ERROR_INVALID_BYTECODE,
                                      "The image's object is %s-endian (%s) but this host is %s-endian.",
                                      h.e_ident[EI_DATA] == ELFDATA2MSB ? "big" : "little",
                                      h.e_ident[EI_DATA] == ELFDATA2MSB ? "bpfeb" : "bpfel", host_le ? "little" : "big");
        /* Same byte order as the host: the fields read as they are. */
        type = h.e_type;
        machine = h.e_machine;
        if (machine != EM_BPF)
                return error_info_set(error, EBADMSG, BUS_ERROR_INVALID_BYTECODE,
                                      "The image's object is an ELF file for machine %u, not an eBPF object (EM_BPF).",
                                      (unsigned) machine);
        if (type != ET_REL)
                return error_info_set(error, EBADMSG, BUS_ERROR_INVALID_BYTECODE,
                                      "The image's object is not a relocatable ELF object (type %u).", (unsigned) type);
        return 0;
}
