/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <archive.h>
#include <archive_entry.h>
#include <elf.h>
#include <inttypes.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "layer.h"

/* How much of a name or media type from a layer goes into a message. */
#define SHOWN_MAX 128

static void archive_read_freep(struct archive **a) {
        if (*a)
                archive_read_free(*a);
}

/* Text from a layer (entry names, libarchive's messages quoting them) is
 * shown as printable ASCII with everything else escaped as \xNN, cut to fit
 * buf: the message goes on the bus, which wants valid UTF-8, and a hostile
 * name must not crowd out the rest of the sentence. */
static const char *shown(const char *s, char *buf, size_t size) {
        size_t j = 0;

        assert(size >= 8);
        for (const unsigned char *p = (const unsigned char *) strempty(s); *p; p++) {
                bool plain = *p >= 0x20 && *p < 0x7f && *p != '\\';
                size_t need = plain ? 1 : 4;

                if (j + need > size - 4) {
                        memcpy(buf + j, "...", 4);
                        return buf;
                }
                if (plain)
                        buf[j++] = (char) *p;
                else {
                        (void) snprintf(buf + j, 5, "\\x%02x", *p);
                        j += 4;
                }
        }
        buf[j] = '\0';
        return buf;
}

static int invalid(ErrorInfo *error, const char *fmt, ...) _printf_(2, 3);
static int invalid(ErrorInfo *error, const char *fmt, ...) {
        va_list ap;

        error->error = -EBADMSG;
        error->bus_error = BUS_ERROR_INVALID_BYTECODE;
        va_start(ap, fmt);
        (void) vsnprintf(error->message, sizeof error->message, fmt, ap);
        va_end(ap);
        return -EBADMSG;
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

static uint64_t add_saturating(uint64_t a, uint64_t b) {
        return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* A bumblebee program layer: the blob is the object. */
static int copy_raw(int layer_fd, uint64_t size, int out_fd, uint64_t max_size, ErrorInfo *error) {
        uint8_t buf[64 * 1024];
        uint64_t total = 0;
        int r;

        if (size > max_size)
                return error_info_set(error, E2BIG, BUS_ERROR_LIMITS_EXCEEDED,
                                      "The program layer is %" PRIu64 " bytes; an eBPF object may be at most %" PRIu64 " bytes.",
                                      size, max_size);
        for (;;) {
                ssize_t n = pread(layer_fd, buf, sizeof buf, (off_t) total);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return error_info_set(error, errno, NULL, "Could not read the layer: %m");
                }
                if (n == 0)
                        return 0;
                /* The file may have grown since fstat(): count what is read. */
                total += (uint64_t) n;
                if (total > max_size)
                        return error_info_set(error, E2BIG, BUS_ERROR_LIMITS_EXCEEDED,
                                              "The program layer is more than %" PRIu64 " bytes; an eBPF object may be at most %" PRIu64 " bytes.",
                                              total - (uint64_t) n, max_size);
                r = write_all(out_fd, buf, (size_t) n);
                if (r < 0)
                        return error_info_set(error, r, NULL, "Could not write the extracted object: %m");
        }
}

/* Relative, and no component is "..". */
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
        default: return "of an unknown type";
        }
}

/* The whole decompressed stream (headers, directories, padding and data)
 * that libarchive has consumed so far. */
static int check_stream(struct archive *a, uint64_t stream_max, uint64_t max_size, ErrorInfo *error) {
        la_int64_t consumed = archive_filter_bytes(a, 0);

        if (consumed > 0 && (uint64_t) consumed > stream_max)
                return error_info_set(error, E2BIG, BUS_ERROR_LIMITS_EXCEEDED,
                                      "The layer's tar stream is more than %" PRIu64 " bytes once decompressed; "
                                      "a bytecode layer holds one object of at most %" PRIu64 " bytes.",
                                      stream_max, max_size);
        return 0;
}

static int extract_tar(int layer_fd, const char *media_type, bool gzip, int out_fd, uint64_t max_size, ErrorInfo *error) {
        _cleanup_(archive_read_freep) struct archive *a = NULL;
        _cleanup_free_ char *found = NULL;
        uint64_t stream_max = add_saturating(max_size, LAYER_TAR_OVERHEAD_MAX);
        char n1[SHOWN_MAX], n2[SHOWN_MAX];
        struct archive_entry *entry;
        uint8_t magic[2];
        bool is_gzip;
        ssize_t n;
        int r;

        /* Say plainly when the media type and the bytes disagree, rather than
         * leaving it to libarchive's "Unrecognized archive format". */
        do
                n = pread(layer_fd, magic, sizeof magic, 0);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return error_info_set(error, errno, NULL, "Could not read the layer: %m");
        is_gzip = n == (ssize_t) sizeof magic && magic[0] == 0x1f && magic[1] == 0x8b;
        if (gzip && !is_gzip)
                return invalid(error, "The layer is not gzip-compressed though its media type (%s) says it is.", media_type);
        if (!gzip && is_gzip)
                return invalid(error, "The layer is gzip-compressed though its media type (%s) says it is an uncompressed tar.",
                               media_type);

        if (lseek(layer_fd, 0, SEEK_SET) < 0)
                return error_info_set(error, errno, NULL, "Could not read the layer: %m");
        a = archive_read_new();
        if (!a)
                return error_info_set(error, ENOMEM, NULL, "Out of memory.");
        /* Tar only; gzip only when the media type says so, and only libarchive's
         * own zlib decoder (ARCHIVE_WARN would mean an external gzip program). */
        if (archive_read_support_format_tar(a) != ARCHIVE_OK)
                return error_info_set(error, ENOTSUP, NULL, "libarchive cannot read tar archives: %s",
                                      shown(archive_error_string(a), n1, sizeof n1));
        if (gzip && archive_read_support_filter_gzip(a) != ARCHIVE_OK)
                return error_info_set(error, ENOTSUP, NULL, "libarchive cannot decompress gzip by itself: %s",
                                      shown(archive_error_string(a), n1, sizeof n1));
        if (archive_read_open_fd(a, layer_fd, 64 * 1024) != ARCHIVE_OK)
                return invalid(error, "The layer is not a readable %s archive: %s.", gzip ? "gzip-compressed tar" : "tar",
                               shown(archive_error_string(a) ?: "unknown format", n1, sizeof n1));
        if (archive_filter_code(a, 0) != (gzip ? ARCHIVE_FILTER_GZIP : ARCHIVE_FILTER_NONE))
                return invalid(error, gzip ? "The layer is not gzip-compressed though its media type (%s) says it is."
                                           : "The layer is compressed though its media type (%s) says it is an uncompressed tar.",
                               media_type);

        for (;;) {
                const char *name;
                mode_t type;
                uint64_t total = 0;

                r = archive_read_next_header(a, &entry);
                if (r == ARCHIVE_EOF)
                        break;
                if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
                        return invalid(error, "The layer is a damaged archive: %s.",
                                       shown(archive_error_string(a) ?: "read error", n1, sizeof n1));
                r = check_stream(a, stream_max, max_size, error);
                if (r < 0)
                        return r;

                name = archive_entry_pathname(entry);
                type = archive_entry_filetype(entry);
                if (!name || !path_is_safe(name))
                        return invalid(error, "The layer has an entry with an unsafe path '%s': "
                                       "paths in a bytecode layer are relative and have no '..' component.",
                                       shown(name, n1, sizeof n1));
                if (archive_entry_hardlink(entry))
                        return invalid(error, "The layer's entry '%s' is a hard link (to '%s'); a bytecode layer holds one regular file.",
                                       shown(name, n1, sizeof n1), shown(archive_entry_hardlink(entry), n2, sizeof n2));
                if (type == AE_IFDIR)
                        continue;
                if (type != AE_IFREG)
                        return invalid(error, "The layer's entry '%s' is %s; a bytecode layer holds one regular file.",
                                       shown(name, n1, sizeof n1), entry_kind(type));
                if (found)
                        return invalid(error, "The layer holds more than one file (%s, %s); a bytecode layer holds exactly one eBPF object.",
                                       shown(found, n1, sizeof n1), shown(name, n2, sizeof n2));
                if (archive_entry_sparse_count(entry) > 0)
                        return invalid(error, "The layer's file '%s' is a sparse file; a bytecode object is not.",
                                       shown(name, n1, sizeof n1));
                if (archive_entry_size_is_set(entry) && archive_entry_size(entry) >= 0 &&
                    (uint64_t) archive_entry_size(entry) > max_size)
                        return error_info_set(error, E2BIG, BUS_ERROR_LIMITS_EXCEEDED,
                                              "The layer's file '%s' is %" PRIi64 " bytes; an eBPF object may be at most %" PRIu64 " bytes.",
                                              shown(name, n1, sizeof n1), (int64_t) archive_entry_size(entry), max_size);
                found = strdup(name);
                if (!found)
                        return error_info_set(error, ENOMEM, NULL, "Out of memory.");

                for (;;) {
                        const void *buf;
                        size_t size;
                        la_int64_t offset;

                        r = archive_read_data_block(a, &buf, &size, &offset);
                        if (r == ARCHIVE_EOF)
                                break;
                        if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
                                return invalid(error, "The layer is a damaged archive: %s.",
                                               shown(archive_error_string(a) ?: "read error", n1, sizeof n1));
                        /* Count what really comes out, not what the header claims. */
                        if (size > max_size - MIN(total, max_size))
                                return error_info_set(error, E2BIG, BUS_ERROR_LIMITS_EXCEEDED,
                                                      "The layer's file '%s' decompresses to more than %" PRIu64 " bytes; "
                                                      "an eBPF object may be at most %" PRIu64 " bytes.",
                                                      shown(name, n1, sizeof n1), max_size, max_size);
                        if (offset < 0 || (uint64_t) offset != total)
                                return invalid(error, "The layer's file '%s' has holes; a bytecode object is not a sparse file.",
                                               shown(name, n1, sizeof n1));
                        total += size;
                        r = check_stream(a, stream_max, max_size, error);
                        if (r < 0)
                                return r;
                        r = write_all(out_fd, buf, size);
                        if (r < 0)
                                return error_info_set(error, r, NULL, "Could not write the extracted object: %m");
                }
                if (archive_entry_size_is_set(entry) && (uint64_t) archive_entry_size(entry) != total)
                        return invalid(error, "The layer's file '%s' is cut short: %" PRIu64 " of %" PRIi64 " bytes.",
                                       shown(name, n1, sizeof n1), total, (int64_t) archive_entry_size(entry));
        }
        if (!found)
                return invalid(error, "The layer holds no file; a bytecode layer holds exactly one eBPF object.");
        return 0;
}

int layer_extract_elf(int layer_fd, const char *media_type, int out_fd, uint64_t max_size, ErrorInfo *error) {
        char shown_type[SHOWN_MAX];
        struct stat st;
        int r;

        assert(layer_fd >= 0);
        assert(out_fd >= 0);
        assert(error);

        r = reset(out_fd);
        if (r < 0)
                return error_info_set(error, r, NULL, "Could not truncate the file for the extracted object: %m");

        if (fstat(layer_fd, &st) < 0)
                r = error_info_set(error, errno, NULL, "Could not inspect the layer: %m");
        else if (!S_ISREG(st.st_mode))
                r = error_info_set(error, EINVAL, NULL, "The layer is not a regular file.");
        else if (streq_ptr(media_type, LAYER_MEDIA_BUMBLEBEE))
                r = copy_raw(layer_fd, (uint64_t) st.st_size, out_fd, max_size, error);
        else if (streq_ptr(media_type, LAYER_MEDIA_OCI_TAR_GZIP) || streq_ptr(media_type, LAYER_MEDIA_DOCKER_TAR_GZIP))
                r = extract_tar(layer_fd, media_type, true, out_fd, max_size, error);
        else if (streq_ptr(media_type, LAYER_MEDIA_OCI_TAR))
                r = extract_tar(layer_fd, media_type, false, out_fd, max_size, error);
        else
                r = error_info_set(error, EMEDIUMTYPE, BUS_ERROR_INVALID_BYTECODE,
                                   "Layers of media type '%s' carry no eBPF object bpfhub can read; a bytecode layer is "
                                   LAYER_MEDIA_OCI_TAR_GZIP ", " LAYER_MEDIA_OCI_TAR ", " LAYER_MEDIA_DOCKER_TAR_GZIP
                                   " or " LAYER_MEDIA_BUMBLEBEE ".",
                                   media_type ? shown(media_type, shown_type, sizeof shown_type) : "(none)");
        if (r >= 0)
                r = elf_check_bpf_object(out_fd, error);
        if (r >= 0 && lseek(out_fd, 0, SEEK_SET) < 0)
                r = error_info_set(error, errno, NULL, "Could not rewind the extracted object: %m");
        if (r < 0) {
                (void) reset(out_fd);
                return r;
        }
        return 0;
}

static const char *machine_name(unsigned machine) {
        switch (machine) {
        case EM_X86_64: return "x86-64";
        case EM_386: return "i386";
        case EM_AARCH64: return "AArch64";
        case EM_ARM: return "ARM";
        case EM_RISCV: return "RISC-V";
        case EM_PPC64: return "PowerPC64";
        case EM_S390: return "s390";
        case EM_LOONGARCH: return "LoongArch";
        case EM_MIPS: return "MIPS";
        default: return "another machine";
        }
}

static const char *type_name(unsigned type) {
        switch (type) {
        case ET_EXEC: return "an executable (ET_EXEC)";
        case ET_DYN: return "a shared object or position-independent executable (ET_DYN)";
        case ET_CORE: return "a core dump (ET_CORE)";
        case ET_NONE: return "of no type (ET_NONE)";
        default: return "of an unknown type";
        }
}

int elf_check_bpf_object(int fd, ErrorInfo *error) {
        const bool host_le = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;
        Elf64_Ehdr h = {};
        struct stat st;
        uint64_t size, shnum;
        ssize_t n;

        assert(error);

        if (fstat(fd, &st) < 0)
                return error_info_set(error, errno, NULL, "Could not inspect the object: %m");
        size = (uint64_t) MAX(st.st_size, (off_t) 0);
        do
                n = pread(fd, &h, sizeof h, 0);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return error_info_set(error, errno, NULL, "Could not read the object: %m");

        if ((size_t) n < SELFMAG || memcmp(h.e_ident, ELFMAG, SELFMAG) != 0)
                return invalid(error, "The object is not an ELF file.");
        if ((size_t) n <= EI_DATA)
                return invalid(error, "The object is a truncated ELF file (%zd bytes).", n);
        if (h.e_ident[EI_CLASS] == ELFCLASS32)
                return invalid(error, "The object is a 32-bit ELF file; eBPF objects are 64-bit.");
        if (h.e_ident[EI_CLASS] != ELFCLASS64)
                return invalid(error, "The object is a damaged ELF file: its class is %u.", h.e_ident[EI_CLASS]);
        if (h.e_ident[EI_DATA] != ELFDATA2LSB && h.e_ident[EI_DATA] != ELFDATA2MSB)
                return invalid(error, "The object is a damaged ELF file: its byte order is %u.", h.e_ident[EI_DATA]);
        if (h.e_ident[EI_DATA] != (host_le ? ELFDATA2LSB : ELFDATA2MSB))
                return invalid(error, "The object is %s-endian (%s) but this host is %s-endian.",
                               h.e_ident[EI_DATA] == ELFDATA2MSB ? "big" : "little",
                               h.e_ident[EI_DATA] == ELFDATA2MSB ? "bpfeb" : "bpfel", host_le ? "little" : "big");
        if ((size_t) n < sizeof h)
                return invalid(error, "The object is a truncated ELF file (%zd bytes).", n);

        /* Same byte order as the host from here on: the fields read as they are. */
        if (h.e_ident[EI_VERSION] != EV_CURRENT || h.e_version != EV_CURRENT)
                return invalid(error, "The object is a damaged ELF file: its version is %u.", (unsigned) h.e_version);
        if (h.e_machine != EM_BPF)
                return invalid(error, "The object is an ELF file for %s (machine %u), not an eBPF object (EM_BPF).",
                               machine_name(h.e_machine), (unsigned) h.e_machine);
        if (h.e_type != ET_REL)
                return invalid(error, "The object is %s, not a relocatable eBPF object (ET_REL) as clang writes them.",
                               type_name(h.e_type));

        /* libbpf finds programs and maps by section: the table must be there. */
        if (h.e_shoff == 0 || h.e_shentsize != sizeof(Elf64_Shdr))
                return invalid(error, "The object is a damaged ELF file: it has no usable section header table.");
        shnum = h.e_shnum;
        if (shnum == 0) {
                /* Extended numbering: the count is section 0's sh_size. */
                Elf64_Shdr s0;

                if (h.e_shoff > size || size - h.e_shoff < sizeof s0 ||
                    pread(fd, &s0, sizeof s0, (off_t) h.e_shoff) != (ssize_t) sizeof s0)
                        return invalid(error, "The object is a damaged ELF file: its section header table lies outside the file.");
                shnum = s0.sh_size;
        }
        if (h.e_shoff > size || shnum == 0 || shnum > (size - h.e_shoff) / sizeof(Elf64_Shdr))
                return invalid(error, "The object is a damaged ELF file: its section header table (%" PRIu64 " entries at offset %" PRIu64
                               ") lies outside its %" PRIu64 " bytes.", shnum, (uint64_t) h.e_shoff, size);
        return 0;
}
