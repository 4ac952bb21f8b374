/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <ctype.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <linux/bpf.h>
#include <stdarg.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>

#include "errors.h"
#include "fileio.h"
#include "json-util.h"
#include "log.h"
#include "program.h"
#include "time-util.h"

static const struct {
        const char *name;
        const char *feature;
        enum bpf_prog_type kernel_type;         /* 0: keep what SEC() says */
        enum bpf_attach_type attach_type;       /* for fentry/fexit */
} program_types[_PROGRAM_TYPE_MAX] = {
        [PROGRAM_XDP]        = { "xdp",        "xdp",        BPF_PROG_TYPE_XDP,        0 },
        [PROGRAM_TC]         = { "tc",         "sched_cls",  BPF_PROG_TYPE_SCHED_CLS,  0 },
        [PROGRAM_TCX]        = { "tcx",        "tcx",        BPF_PROG_TYPE_SCHED_CLS,  0 },
        [PROGRAM_TRACEPOINT] = { "tracepoint", "tracepoint", BPF_PROG_TYPE_TRACEPOINT, 0 },
        [PROGRAM_KPROBE]     = { "kprobe",     "kprobe",     BPF_PROG_TYPE_KPROBE,     0 },
        [PROGRAM_UPROBE]     = { "uprobe",     "uprobe",     BPF_PROG_TYPE_KPROBE,     0 },
        [PROGRAM_FENTRY]     = { "fentry",     "tracing",    BPF_PROG_TYPE_TRACING,    BPF_TRACE_FENTRY },
        [PROGRAM_FEXIT]      = { "fexit",      "tracing",    BPF_PROG_TYPE_TRACING,    BPF_TRACE_FEXIT },
        [PROGRAM_CGROUP]     = { "cgroup",     "cgroup_skb", 0,                        0 },
};

const char *program_type_to_string(ProgramType t) {
        return t >= 0 && t < _PROGRAM_TYPE_MAX ? program_types[t].name : NULL;
}

ProgramType program_type_from_string(const char *s) {
        for (int i = 0; s && i < _PROGRAM_TYPE_MAX; i++)
                if (streq(program_types[i].name, s))
                        return (ProgramType) i;
        return _PROGRAM_TYPE_INVALID;
}

const char *program_type_feature(ProgramType t) {
        return t >= 0 && t < _PROGRAM_TYPE_MAX ? program_types[t].feature : NULL;
}

void global_value_done(GlobalValue *g) {
        g->name = mfree(g->name);
        g->bytes = mfree(g->bytes);
        g->size = 0;
}

static int unhex(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        c = (char) tolower((unsigned char) c);
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -EINVAL;
}

int global_value_parse(const char *s, GlobalValue *ret) {
        const char *eq = strchr(s, '='), *hex;
        _cleanup_free_ uint8_t *bytes = NULL;
        _cleanup_free_ char *name = NULL;
        size_t len;

        if (!eq || eq == s || (size_t) (eq - s) > 255)
                return -EINVAL;
        for (const char *c = s; c < eq; c++)
                if (!isalnum((unsigned char) *c) && *c != '_' && *c != '.')
                        return -EINVAL;
        hex = eq + 1;
        if (startswith(hex, "0x") || startswith(hex, "0X"))
                hex += 2;
        len = strlen(hex);
        if (len == 0 || len % 2 != 0 || len / 2 > GLOBAL_SIZE_MAX)
                return -EINVAL;

        name = strndup(s, (size_t) (eq - s));
        bytes = malloc(len / 2);
        if (!name || !bytes)
                return -ENOMEM;
        for (size_t i = 0; i < len / 2; i++) {
                int hi = unhex(hex[2 * i]), lo = unhex(hex[2 * i + 1]);
                if (hi < 0 || lo < 0)
                        return -EINVAL;
                bytes[i] = (uint8_t) (hi << 4 | lo);
        }
        *ret = (GlobalValue) { .name = TAKE_PTR(name), .bytes = TAKE_PTR(bytes), .size = len / 2 };
        return 0;
}

void load_request_done(LoadRequest *req) {
        for (size_t i = 0; i < req->n_programs; i++) {
                free(req->programs[i].name);
                free(req->programs[i].attach_func);
        }
        free(req->programs);
        for (size_t i = 0; i < req->n_globals; i++)
                global_value_done(&req->globals[i]);
        free(req->globals);
        strv_free(req->metadata);
        free(req->path);
        free(req->image_reference);
        free(req->image_digest);
        free(req->group);
        *req = (LoadRequest) {};
}

const char *load_request_origin(const LoadRequest *req) {
        return req->image_reference ?: req->path;
}

Program *program_free(Program *p) {
        if (!p)
                return NULL;
        free(p->name);
        free(p->path);
        free(p->image_digest);
        free(p->group);
        free(p->attach_func);
        strv_free(p->metadata);
        strv_free(p->globals);
        return mfree(p);
}

char *program_pin_path(const char *bpffs_root, uint32_t id) {
        char *p;
        return asprintf(&p, "%s/programs/%" PRIu32, bpffs_root, id) < 0 ? NULL : p;
}

char *map_pin_dir(const char *bpffs_root, uint32_t owner_id) {
        char *p;
        return asprintf(&p, "%s/maps/%" PRIu32, bpffs_root, owner_id) < 0 ? NULL : p;
}

/* The ELF must be a BPF object for this host's byte order before libbpf
 * sees it, so the caller gets "not a BPF object" rather than a libbpf
 * parse error. */
static int check_elf(const char *path, const char *name, ErrorInfo *err) {
        _cleanup_close_ int fd = -EBADF;
        unsigned char ident[EI_NIDENT];
        GElf_Ehdr ehdr;
        Elf *elf;
        struct stat st;
        bool host_le = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return error_info_set(err, errno, NULL, "Cannot open %s: %m", name);
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                return error_info_set(err, EBADMSG, BUS_ERROR_INVALID_BYTECODE, "%s is not a regular file.", name);
        if (read(fd, ident, sizeof ident) != (ssize_t) sizeof ident || memcmp(ident, ELFMAG, SELFMAG) != 0)
                return error_info_set(err, EBADMSG, BUS_ERROR_INVALID_BYTECODE, "%s is not an ELF file.", name);
        if (ident[EI_DATA] != (host_le ? ELFDATA2LSB : ELFDATA2MSB))
                return error_info_set(err, EBADMSG, BUS_ERROR_INVALID_BYTECODE,
                                 "%s is a %s-endian object; this host is %s-endian.", name,
                                 ident[EI_DATA] == ELFDATA2LSB ? "little" : "big", host_le ? "little" : "big");

        (void) elf_version(EV_CURRENT);
        elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
        if (!elf || !gelf_getehdr(elf, &ehdr)) {
                if (elf)
                        elf_end(elf);
                return error_info_set(err, EBADMSG, BUS_ERROR_INVALID_BYTECODE, "%s is a damaged ELF file.", name);
        }
        elf_end(elf);
        if (ehdr.e_machine != EM_BPF)
                return error_info_set(err, EBADMSG, BUS_ERROR_INVALID_BYTECODE,
                                 "%s is an ELF object for machine %u, not a BPF object (EM_BPF).", name,
                                 (unsigned) ehdr.e_machine);
        return 0;
}

/* Finds a global variable in the object's .rodata/.data/.bss and writes
 * the new value into the map's initial contents. */
static int set_global(struct bpf_object *obj, const GlobalValue *g, ErrorInfo *err) {
        const struct btf *btf = bpf_object__btf(obj);
        struct bpf_map *map;

        if (!btf)
                return error_info_set(err, EINVAL, BUS_ERROR_INVALID_BYTECODE,
                                 "Cannot set global '%s': the object has no BTF (compile with -g).", g->name);

        bpf_object__for_each_map(map, obj) {
                const struct btf_type *sec;
                const struct btf_var_secinfo *vs;
                uint32_t type_id;

                if (!bpf_map__is_internal(map))
                        continue;
                type_id = bpf_map__btf_value_type_id(map);
                sec = type_id ? btf__type_by_id(btf, type_id) : NULL;
                if (!sec || !btf_is_datasec(sec))
                        continue;

                vs = btf_var_secinfos(sec);
                for (unsigned i = 0; i < btf_vlen(sec); i++, vs++) {
                        const struct btf_type *var = btf__type_by_id(btf, vs->type);
                        const char *name = var ? btf__name_by_offset(btf, var->name_off) : NULL;
                        _cleanup_free_ uint8_t *copy = NULL;
                        const void *init;
                        size_t size;

                        if (!name || !streq(name, g->name))
                                continue;
                        if (vs->size != g->size)
                                return error_info_set(err, EINVAL, NULL,
                                                 "Global '%s' has %u bytes, but %zu bytes were given.",
                                                 g->name, vs->size, g->size);
                        init = bpf_map__initial_value(map, &size);
                        if (!init || vs->offset + vs->size > size)
                                return error_info_set(err, EINVAL, BUS_ERROR_INVALID_BYTECODE,
                                                 "Global '%s' lies outside its section.", g->name);
                        copy = malloc(size);
                        if (!copy)
                                return -ENOMEM;
                        memcpy(copy, init, size);
                        memcpy(copy + vs->offset, g->bytes, g->size);
                        if (bpf_map__set_initial_value(map, copy, size) < 0)
                                return error_info_set(err, errno, NULL, "Cannot set global '%s': %m", g->name);
                        return 0;
                }
        }
        return error_info_set(err, EINVAL, NULL, "The object has no global variable '%s'.", g->name);
}

static int reuse_owner_maps(struct bpf_object *obj, const char *owner_dir, ErrorInfo *err) {
        struct bpf_map *map;

        if (access(owner_dir, F_OK) < 0)
                return error_info_set(err, ENOENT, BUS_ERROR_NO_SUCH_PROGRAM,
                                 "The map owner program has no pinned maps (%s).", owner_dir);
        bpf_object__for_each_map(map, obj) {
                _cleanup_free_ char *pin = NULL;
                _cleanup_close_ int fd = -EBADF;

                if (bpf_map__is_internal(map))
                        continue;
                pin = strjoin(owner_dir, "/", bpf_map__name(map));
                if (!pin)
                        return -ENOMEM;
                fd = bpf_obj_get(pin);
                if (fd < 0)
                        continue; /* a map of its own */
                if (bpf_map__reuse_fd(map, fd) < 0)
                        return error_info_set(err, errno, NULL,
                                         "Map '%s' of the map owner does not fit this object: %m", bpf_map__name(map));
        }
        return 0;
}

static int pin_maps(struct bpf_object *obj, const char *dir, ErrorInfo *err) {
        struct bpf_map *map;
        int r;

        r = mkdir_parents(dir, 0700);
        if (r < 0)
                return error_info_set(err, r, NULL, "Cannot create %s: %m", dir);
        bpf_object__for_each_map(map, obj) {
                _cleanup_free_ char *pin = NULL;

                if (bpf_map__is_internal(map))
                        continue;
                pin = strjoin(dir, "/", bpf_map__name(map));
                if (!pin)
                        return -ENOMEM;
                if (access(pin, F_OK) == 0)
                        continue; /* shared with the owner, already pinned */
                if (bpf_obj_pin(bpf_map__fd(map), pin) < 0)
                        return error_info_set(err, errno, NULL, "Cannot pin map %s: %m", pin);
        }
        return 0;
}

static int kernel_prog_id(int fd, uint32_t *ret) {
        struct bpf_prog_info info = {};
        uint32_t len = sizeof info;

        if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0)
                return -errno;
        *ret = info.id;
        return 0;
}

/* libbpf's messages for the load in progress, to explain a failure. */
static char libbpf_log[4096];
static size_t libbpf_log_len;

static int capture_print(enum libbpf_print_level level, const char *fmt, va_list ap) {
        int n;

        if (level == LIBBPF_DEBUG || libbpf_log_len >= sizeof libbpf_log - 1)
                return 0;
        n = vsnprintf(libbpf_log + libbpf_log_len, sizeof libbpf_log - libbpf_log_len, fmt, ap);
        if (n > 0)
                libbpf_log_len = MIN(libbpf_log_len + (size_t) n, sizeof libbpf_log - 1);
        return 0;
}

/* What libbpf said that explains a failure: the verifier's verdict (the
 * line before "processed N insns" in the load log) when there is one, else
 * libbpf's last line. */
static const char *libbpf_last_error(void) {
        static char line[512];
        const char *log_start = strstr(libbpf_log, "-- BEGIN PROG LOAD LOG --");
        const char *processed = log_start ? strstr(log_start, "\nprocessed ") : NULL;
        char *nl;

        if (processed) {
                /* The verdict line ends at the '\n' before "processed". */
                const char *b = processed;
                while (b > log_start && b[-1] != '\n')
                        b--;
                if (b > log_start && processed > b) {
                        (void) snprintf(line, sizeof line, "the verifier says: %.*s", (int) (processed - b), b);
                        return line;
                }
        }
        while (libbpf_log_len > 0 && libbpf_log[libbpf_log_len - 1] == '\n')
                libbpf_log[--libbpf_log_len] = '\0';
        nl = strrchr(libbpf_log, '\n');
        return nl ? nl + 1 : libbpf_log;
}

static int check_request(const KernelFeatures *kf, const LoadRequest *req, ErrorInfo *err) {
        if (req->n_programs == 0)
                return error_info_set(err, EINVAL, NULL, "No programs to load.");
        if (req->n_programs > LOAD_PROGRAMS_MAX)
                return error_info_set(err, E2BIG, BUS_ERROR_LIMITS_EXCEEDED, "At most %d programs per load.", LOAD_PROGRAMS_MAX);
        if (!req->path || req->path[0] != '/')
                return error_info_set(err, EINVAL, NULL, "The object path must be absolute.");
        for (size_t i = 0; i < req->n_programs; i++) {
                const ProgramSpec *s = &req->programs[i];
                const KernelFeature *f = kernel_features_find(kf, program_type_feature(s->type));

                for (size_t j = 0; j < i; j++)
                        if (streq(req->programs[j].name, s->name))
                                return error_info_set(err, EINVAL, NULL, "Program '%s' is listed twice.", s->name);
                if (f && !f->supported)
                        return error_info_set(err, EOPNOTSUPP, BUS_ERROR_UNSUPPORTED_BY_KERNEL,
                                         "This kernel cannot run %s programs: %s (kernel feature '%s').",
                                         program_type_to_string(s->type), f->detail, f->name);
        }
        return 0;
}

int program_load(const char *bpffs_root, const KernelFeatures *kf, const LoadRequest *req,
                 Program ***ret, size_t *ret_n, ErrorInfo *err) {
        _cleanup_free_ char *owner_dir = NULL, *maps_dir = NULL;
        struct bpf_program **progs = NULL;
        Program **result = NULL;
        struct bpf_object *obj = NULL;
        libbpf_print_fn_t old_print;
        bool maps_dir_created = false;
        size_t n_pinned = 0;
        uint32_t group_id = 0;
        int r;

        *err = (ErrorInfo) {};
        r = check_request(kf, req, err);
        if (r < 0)
                return r;
        r = check_elf(req->path, load_request_origin(req), err);
        if (r < 0)
                return r;

        libbpf_log_len = 0;
        libbpf_log[0] = '\0';
        old_print = libbpf_set_print(capture_print);

        obj = bpf_object__open_file(req->path, &(struct bpf_object_open_opts) {
                .sz = sizeof(struct bpf_object_open_opts), .object_name = req->object_name });
        if (!obj) {
                r = error_info_set(err, errno, BUS_ERROR_INVALID_BYTECODE, "Cannot open BPF object %s: %s", load_request_origin(req),
                              libbpf_log_len ? libbpf_last_error() : strerror(errno));
                goto finish;
        }

        progs = calloc(req->n_programs, sizeof(*progs));
        result = calloc(req->n_programs + 1, sizeof(*result));
        if (!progs || !result) {
                r = -ENOMEM;
                goto finish;
        }

        /* Only the requested programs are loaded. */
        {
                struct bpf_program *p;
                bpf_object__for_each_program(p, obj)
                        (void) bpf_program__set_autoload(p, false);
        }
        for (size_t i = 0; i < req->n_programs; i++) {
                const ProgramSpec *s = &req->programs[i];
                enum bpf_prog_type want = program_types[s->type].kernel_type;

                progs[i] = bpf_object__find_program_by_name(obj, s->name);
                if (!progs[i]) {
                        r = error_info_set(err, ENOENT, BUS_ERROR_INVALID_BYTECODE,
                                      "%s has no program (function) named '%s'.", load_request_origin(req), s->name);
                        goto finish;
                }
                (void) bpf_program__set_autoload(progs[i], true);
                if (want && bpf_program__type(progs[i]) != want)
                        (void) bpf_program__set_type(progs[i], want);
                if (program_types[s->type].attach_type)
                        (void) bpf_program__set_expected_attach_type(progs[i], program_types[s->type].attach_type);
                if (s->attach_func && bpf_program__set_attach_target(progs[i], 0, s->attach_func) < 0) {
                        r = error_info_set(err, errno, NULL, "Cannot target kernel function '%s': %m", s->attach_func);
                        goto finish;
                }
                if (s->type == PROGRAM_CGROUP) {
                        enum bpf_prog_type t = bpf_program__type(progs[i]);
                        if (t < BPF_PROG_TYPE_CGROUP_SKB || (t != BPF_PROG_TYPE_CGROUP_SKB && t != BPF_PROG_TYPE_CGROUP_SOCK &&
                                                             t != BPF_PROG_TYPE_CGROUP_SOCK_ADDR && t != BPF_PROG_TYPE_CGROUP_SOCKOPT &&
                                                             t != BPF_PROG_TYPE_CGROUP_SYSCTL && t != BPF_PROG_TYPE_CGROUP_DEVICE)) {
                                r = error_info_set(err, EINVAL, BUS_ERROR_INVALID_BYTECODE,
                                              "Program '%s' is not a cgroup program (section \"%s\").", s->name,
                                              bpf_program__section_name(progs[i]));
                                goto finish;
                        }
                }
        }

        for (size_t i = 0; i < req->n_globals; i++) {
                r = set_global(obj, &req->globals[i], err);
                if (r < 0)
                        goto finish;
        }

        if (req->map_owner_id > 0) {
                owner_dir = map_pin_dir(bpffs_root, req->map_owner_id);
                if (!owner_dir) {
                        r = -ENOMEM;
                        goto finish;
                }
                r = reuse_owner_maps(obj, owner_dir, err);
                if (r < 0)
                        goto finish;
        }

        if (bpf_object__load(obj) < 0) {
                /* EPERM: not privileged; EACCES and the rest: the verifier refused. */
                r = error_info_set(err, errno, errno == EPERM ? NULL : BUS_ERROR_INVALID_BYTECODE,
                              "The kernel refused to load %s: %s", load_request_origin(req),
                              libbpf_log_len ? libbpf_last_error() : strerror(errno));
                goto finish;
        }

        r = kernel_prog_id(bpf_program__fd(progs[0]), &group_id);
        if (r < 0)
                goto finish;

        if (req->map_owner_id > 0)
                maps_dir = TAKE_PTR(owner_dir);
        else {
                maps_dir = map_pin_dir(bpffs_root, group_id);
                if (!maps_dir) {
                        r = -ENOMEM;
                        goto finish;
                }
                maps_dir_created = true;
        }
        r = pin_maps(obj, maps_dir, err);
        if (r < 0)
                goto finish;

        {
                _cleanup_free_ char *programs_dir = strjoin(bpffs_root, "/programs");
                if (!programs_dir) {
                        r = -ENOMEM;
                        goto finish;
                }
                r = mkdir_parents(programs_dir, 0700);
                if (r < 0) {
                        r = error_info_set(err, r, NULL, "Cannot create %s: %m", programs_dir);
                        goto finish;
                }
        }

        for (size_t i = 0; i < req->n_programs; i++) {
                _cleanup_(program_freep) Program *p = NULL;
                _cleanup_free_ char *pin = NULL;

                p = calloc(1, sizeof(Program));
                if (!p) {
                        r = -ENOMEM;
                        goto finish;
                }
                r = kernel_prog_id(bpf_program__fd(progs[i]), &p->id);
                if (r < 0)
                        goto finish;
                pin = program_pin_path(bpffs_root, p->id);
                if (!pin) {
                        r = -ENOMEM;
                        goto finish;
                }
                if (bpf_obj_pin(bpf_program__fd(progs[i]), pin) < 0) {
                        r = error_info_set(err, errno, NULL, "Cannot pin %s: %m", pin);
                        goto finish;
                }
                n_pinned++;

                p->name = strdup(req->programs[i].name);
                p->path = strdup(load_request_origin(req));
                p->image_digest = req->image_digest ? strdup(req->image_digest) : NULL;
                p->type = req->programs[i].type;
                p->group = req->group ? strdup(req->group) : NULL;
                p->attach_func = req->programs[i].attach_func ? strdup(req->programs[i].attach_func) : NULL;
                p->group_id = group_id;
                p->map_owner_id = req->map_owner_id > 0 ? req->map_owner_id : group_id;
                p->loaded_usec = now_usec(CLOCK_REALTIME);
                if (!p->name || !p->path || (req->group && !p->group) || (req->image_digest && !p->image_digest) ||
                    (req->programs[i].attach_func && !p->attach_func)) {
                        r = -ENOMEM;
                        goto finish;
                }
                STRV_FOREACH(m, req->metadata) {
                        r = strv_extend(&p->metadata, *m);
                        if (r < 0)
                                goto finish;
                }
                for (size_t g = 0; g < req->n_globals; g++) {
                        _cleanup_free_ char *s = malloc(strlen(req->globals[g].name) + 2 + 2 * req->globals[g].size);
                        char *q;
                        if (!s) {
                                r = -ENOMEM;
                                goto finish;
                        }
                        q = stpcpy(stpcpy(s, req->globals[g].name), "=");
                        for (size_t b = 0; b < req->globals[g].size; b++)
                                q += sprintf(q, "%02x", req->globals[g].bytes[b]);
                        r = strv_push(&p->globals, TAKE_PTR(s));
                        if (r < 0)
                                goto finish;
                }
                result[i] = TAKE_PTR(p);
        }

        *ret = TAKE_PTR(result);
        *ret_n = req->n_programs;
        r = 0;

finish:
        if (r < 0) {
                /* Leave nothing behind: the pins go, and closing the object
                 * frees the programs and maps. */
                for (size_t i = 0; i < n_pinned && result && result[i]; i++)
                        (void) program_unpin(bpffs_root, result[i]->id);
                if (maps_dir_created && maps_dir)
                        (void) rm_rf(maps_dir);
                if (err->error == 0)
                        (void) error_info_set(err, r, NULL, "Loading %s failed: %s", load_request_origin(req), strerror(-r));
        }
        if (result)
                for (size_t i = 0; i < req->n_programs; i++)
                        program_free(result[i]);
        free(result);
        free(progs);
        bpf_object__close(obj);
        (void) libbpf_set_print(old_print);
        return r;
}

/* Whether kernel map "info" is object map "map": same shape, and the same
 * name, which the kernel truncates to 15 characters. libbpf names a
 * .rodata/.data/.bss map after the object file, which differs between the
 * two opens, so those match by their section suffix. */
static bool map_is(const struct bpf_map *map, const struct bpf_map_info *info) {
        const char *name = bpf_map__name(map), *suffix;

        if (info->type != (uint32_t) bpf_map__type(map) || info->key_size != bpf_map__key_size(map) ||
            info->value_size != bpf_map__value_size(map) || info->max_entries != bpf_map__max_entries(map))
                return false;
        if (bpf_map__is_internal(map)) {
                suffix = strchr(name, '.');
                return suffix && endswith(info->name, suffix);
        }
        return strncmp(info->name, name, BPF_OBJ_NAME_LEN - 1) == 0 &&
               strlen(info->name) == MIN(strlen(name), (size_t) BPF_OBJ_NAME_LEN - 1);
}

static int reuse_program_maps(struct bpf_object *obj, int loaded_fd, ErrorInfo *err) {
        _cleanup_free_ uint32_t *ids = NULL;
        struct bpf_prog_info info;
        uint32_t n;
        int r;

        r = program_info_maps(loaded_fd, &info, &ids, &n);
        if (r < 0)
                return error_info_set(err, r, NULL, "Cannot read the maps of the loaded program: %m");
        if (n > 64)
                return error_info_set(err, E2BIG, BUS_ERROR_LIMITS_EXCEEDED, "The program uses %" PRIu32 " maps; at most 64 can be shared.", n);

        for (uint32_t i = 0; i < n; i++) {
                _cleanup_close_ int fd = bpf_map_get_fd_by_id(ids[i]);
                struct bpf_map_info minfo = {};
                uint32_t mlen = sizeof minfo;
                struct bpf_map *map;

                if (fd < 0 || bpf_obj_get_info_by_fd(fd, &minfo, &mlen) < 0)
                        return error_info_set(err, errno, NULL, "Cannot open map %" PRIu32 " of the loaded program: %m", ids[i]);
                bpf_object__for_each_map(map, obj)
                        if (bpf_map__fd(map) < 0 && map_is(map, &minfo))
                                break;
                if (!map)
                        return error_info_set(err, ESTALE, BUS_ERROR_INVALID_BYTECODE,
                                              "Map '%s' of the loaded program is not in its object any more.", minfo.name);
                if (bpf_map__reuse_fd(map, fd) < 0)
                        return error_info_set(err, errno, NULL, "Cannot share map '%s': %m", minfo.name);
        }
        return 0;
}

int program_open_copy(const char *object_path, const char *name, char *const *globals, int loaded_fd,
                      struct bpf_object **ret, ErrorInfo *err) {
        struct bpf_object *obj;
        struct bpf_program *p, *want = NULL;
        int r;

        *err = (ErrorInfo) {};
        r = check_elf(object_path, object_path, err);
        if (r < 0)
                return r;
        obj = bpf_object__open_file(object_path, NULL);
        if (!obj)
                return error_info_set(err, errno, BUS_ERROR_INVALID_BYTECODE, "Cannot open BPF object %s: %m", object_path);
        bpf_object__for_each_program(p, obj) {
                (void) bpf_program__set_autoload(p, false);
                if (streq(bpf_program__name(p), name))
                        want = p;
        }
        if (!want) {
                r = error_info_set(err, ENOENT, BUS_ERROR_INVALID_BYTECODE, "%s has no program named '%s'.", object_path, name);
                goto fail;
        }
        (void) bpf_program__set_autoload(want, true);
        STRV_FOREACH(g, globals) {
                _cleanup_(global_value_done) GlobalValue v = {};
                r = global_value_parse(*g, &v);
                if (r < 0) {
                        r = error_info_set(err, r, NULL, "The recorded global '%s' is damaged.", *g);
                        goto fail;
                }
                r = set_global(obj, &v, err);
                if (r < 0)
                        goto fail;
        }
        r = reuse_program_maps(obj, loaded_fd, err);
        if (r < 0)
                goto fail;
        *ret = obj;
        return 0;
fail:
        bpf_object__close(obj);
        return r;
}

int program_unpin(const char *bpffs_root, uint32_t id) {
        _cleanup_free_ char *pin = program_pin_path(bpffs_root, id);

        if (!pin)
                return -ENOMEM;
        if (unlink(pin) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

int program_open_pinned(const char *bpffs_root, uint32_t id) {
        _cleanup_free_ char *pin = program_pin_path(bpffs_root, id);
        _cleanup_close_ int fd = -EBADF;
        uint32_t actual;
        int r;

        if (!pin)
                return -ENOMEM;
        fd = bpf_obj_get(pin);
        if (fd < 0)
                return -errno;
        r = kernel_prog_id(fd, &actual);
        if (r < 0)
                return r;
        if (actual != id)
                return -ESTALE;
        return TAKE_FD(fd);
}

static uint64_t boot_to_realtime_usec(uint64_t boot_ns) {
        return now_usec(CLOCK_REALTIME) - now_usec(CLOCK_BOOTTIME) + boot_ns / 1000;
}

static int64_t fdinfo_memlock(int fd) {
        char path[64], line[256];
        _cleanup_fclose_ FILE *f = NULL;
        long long v = -1;

        (void) snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
        f = fopen(path, "re");
        while (f && fgets(line, sizeof line, f))
                if (sscanf(line, "memlock: %lld", &v) == 1)
                        break;
        return v;
}

int program_info_maps(int fd, struct bpf_prog_info *ret_info, uint32_t **ret_map_ids, uint32_t *ret_n_maps) {
        struct bpf_prog_info info = {};
        uint32_t len = sizeof info, n_maps;
        _cleanup_free_ uint32_t *map_ids = NULL;

        if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0)
                return -errno;
        n_maps = info.nr_map_ids;
        if (n_maps > 0) {
                map_ids = calloc(n_maps, sizeof(uint32_t));
                if (!map_ids)
                        return -ENOMEM;
                info = (struct bpf_prog_info) { .nr_map_ids = n_maps, .map_ids = (uintptr_t) map_ids };
                len = sizeof info;
                if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0)
                        return -errno;
                n_maps = MIN(n_maps, info.nr_map_ids);
        }
        info.map_ids = 0;
        *ret_info = info;
        *ret_map_ids = TAKE_PTR(map_ids);
        *ret_n_maps = n_maps;
        return 0;
}

int program_kernel_info(int fd, json_object **ret) {
        struct bpf_prog_info info;
        uint32_t n_maps;
        _cleanup_free_ uint32_t *map_ids = NULL;
        json_object *j, *maps;
        char tag[2 * BPF_TAG_SIZE + 1];
        int r;

        r = program_info_maps(fd, &info, &map_ids, &n_maps);
        if (r < 0)
                return r;

        for (int i = 0; i < BPF_TAG_SIZE; i++)
                (void) sprintf(tag + 2 * i, "%02x", info.tag[i]);

        j = json_object_new_object();
        maps = json_object_new_array();
        if (!j || !maps) {
                json_object_put(j);
                json_object_put(maps);
                return -ENOMEM;
        }
        json_object_object_add(j, "id", json_object_new_uint64(info.id));
        json_object_object_add(j, "name", json_object_new_string(info.name));
        json_object_object_add(j, "type", json_object_new_string(libbpf_bpf_prog_type_str(info.type) ?: "unknown"));
        json_object_object_add(j, "tag", json_object_new_string(tag));
        json_object_object_add(j, "gpl", json_object_new_boolean(info.gpl_compatible));
        json_object_object_add(j, "loadedAtUSec", json_object_new_uint64(boot_to_realtime_usec(info.load_time)));
        json_object_object_add(j, "createdByUid", json_object_new_uint64(info.created_by_uid));
        for (uint32_t i = 0; i < n_maps; i++)
                json_object_array_add(maps, json_object_new_uint64(map_ids[i]));
        json_object_object_add(j, "mapIds", maps);
        json_object_object_add(j, "btfId", json_object_new_uint64(info.btf_id));
        json_object_object_add(j, "translatedBytes", json_object_new_uint64(info.xlated_prog_len));
        json_object_object_add(j, "jitedBytes", json_object_new_uint64(info.jited_prog_len));
        json_object_object_add(j, "memlockBytes", json_object_new_int64(fdinfo_memlock(fd)));
        json_object_object_add(j, "verifiedInstructions", json_object_new_uint64(info.verified_insns));
        *ret = j;
        return 0;
}

int program_kernel_info_by_id(uint32_t id, json_object **ret) {
        _cleanup_close_ int fd = bpf_prog_get_fd_by_id(id);

        if (fd < 0)
                return -errno;
        return program_kernel_info(fd, ret);
}

/* Records: one JSON object per program. */

int program_to_json(const Program *p, json_object **ret) {
        json_object *j = json_object_new_object(), *md = json_new_strv(p->metadata), *gl = json_new_strv(p->globals);

        if (!j || !md || !gl) {
                json_object_put(j);
                json_object_put(md);
                json_object_put(gl);
                return -ENOMEM;
        }
        json_object_object_add(j, "id", json_object_new_uint64(p->id));
        json_object_object_add(j, "name", json_object_new_string(p->name));
        json_object_object_add(j, "type", json_object_new_string(program_type_to_string(p->type)));
        json_object_object_add(j, "path", json_object_new_string(p->path));
        json_add_string_or_null(j, "imageDigest", p->image_digest);
        json_add_string_or_null(j, "group", p->group);
        json_object_object_add(j, "groupId", json_object_new_uint64(p->group_id));
        json_object_object_add(j, "mapOwnerId", json_object_new_uint64(p->map_owner_id));
        json_add_string_or_null(j, "attachFunction", p->attach_func);
        json_object_object_add(j, "metadata", md);
        json_object_object_add(j, "globals", gl);
        json_object_object_add(j, "loadedUSec", json_object_new_uint64(p->loaded_usec));
        *ret = j;
        return 0;
}

int program_from_json(json_object *j, Program **ret) {
        _cleanup_(program_freep) Program *p = calloc(1, sizeof(Program));
        _cleanup_free_ char *type = NULL;
        uint64_t id, group_id, owner, loaded;
        int r;

        if (!p)
                return -ENOMEM;
        if ((r = json_read_u64(j, "id", UINT32_MAX, &id)) < 0 ||
            (r = json_read_u64(j, "groupId", UINT32_MAX, &group_id)) < 0 ||
            (r = json_read_u64(j, "mapOwnerId", UINT32_MAX, &owner)) < 0 ||
            (r = json_read_u64(j, "loadedUSec", UINT64_MAX, &loaded)) < 0 ||
            (r = json_read_string(j, "name", 0, &p->name)) < 0 ||
            (r = json_read_string(j, "type", 0, &type)) < 0 ||
            (r = json_read_string(j, "path", 0, &p->path)) < 0 ||
            (r = json_read_string(j, "imageDigest", JSON_NULLABLE | JSON_OPTIONAL, &p->image_digest)) < 0 ||
            (r = json_read_string(j, "group", JSON_NULLABLE, &p->group)) < 0 ||
            (r = json_read_string(j, "attachFunction", JSON_NULLABLE, &p->attach_func)) < 0 ||
            (r = json_read_strv(j, "metadata", &p->metadata)) < 0 ||
            (r = json_read_strv(j, "globals", &p->globals)) < 0)
                return r;
        p->type = program_type_from_string(type);
        if (p->type < 0 || id == 0)
                return -EBADMSG;
        p->id = (uint32_t) id;
        p->group_id = (uint32_t) group_id;
        p->map_owner_id = (uint32_t) owner;
        p->loaded_usec = loaded;
        *ret = TAKE_PTR(p);
        return 0;
}

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

static bool on_bpffs(const char *path) {
        struct statfs sfs;
        return statfs(path, &sfs) == 0 && sfs.f_type == BPF_FS_MAGIC;
}

int bpffs_ensure(const char *bpffs_root) {
        _cleanup_free_ char *existing = strdup(bpffs_root);
        const char *mount_at;
        int r;

        if (!existing)
                return -ENOMEM;
        /* The deepest existing ancestor tells which file system we are on. */
        while (access(existing, F_OK) < 0) {
                char *slash = strrchr(existing, '/');
                if (!slash || slash == existing)
                        break;
                *slash = '\0';
        }
        if (on_bpffs(existing))
                return mkdir_parents(bpffs_root, 0700);

        mount_at = startswith(bpffs_root, "/sys/fs/bpf/") ? "/sys/fs/bpf" : bpffs_root;
        r = mkdir_parents(mount_at, 0700);
        if (r < 0)
                return r;
        if (mount("bpf", mount_at, "bpf", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700") < 0)
                return -errno;
        log_info("Mounted a bpf file system on %s.", mount_at);
        return mkdir_parents(bpffs_root, 0700);
}
