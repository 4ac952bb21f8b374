/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-c/json.h>
#include <stdint.h>

#include "errors.h"
#include "kernel-features.h"
#include "macro.h"

struct bpf_object;
struct bpf_prog_info;

/* Load-time program types, as the CLI and D-Bus API name them. */
typedef enum ProgramType {
        PROGRAM_XDP,
        PROGRAM_TC,
        PROGRAM_TCX,
        PROGRAM_TRACEPOINT,
        PROGRAM_KPROBE,
        PROGRAM_UPROBE,
        PROGRAM_FENTRY,
        PROGRAM_FEXIT,
        PROGRAM_CGROUP,         /* cgroup_skb/sock/sock_addr/...: the kernel type comes from SEC() */
        _PROGRAM_TYPE_MAX,
        _PROGRAM_TYPE_INVALID = -EINVAL,
} ProgramType;

const char *program_type_to_string(ProgramType t) _const_;
ProgramType program_type_from_string(const char *s) _pure_;
/* The KernelFeatures entry a type needs ("xdp", "tcx", "tracing", ...). */
const char *program_type_feature(ProgramType t) _const_;

#define LOAD_PROGRAMS_MAX 64
#define GLOBAL_SIZE_MAX 4096
#define PROGRAM_OBJECT_SIZE_MAX (64U << 20)

typedef struct ProgramSpec {
        char *name;             /* function name in the object */
        ProgramType type;
        char *attach_func;      /* fentry/fexit target; NULL: from SEC() */
} ProgramSpec;

typedef struct GlobalValue {
        char *name;
        uint8_t *bytes;
        size_t size;
} GlobalValue;

typedef struct LoadRequest {
        char *path;             /* absolute path of the ELF object (for images: /proc/self/fd/N of the extracted object) */
        const char *object_name;/* borrowed; libbpf's name for the object (prefix of its .data/.bss maps), NULL: from path */
        char *image_reference;  /* the image the object came from, or NULL */
        char *image_digest;
        ProgramSpec *programs;
        size_t n_programs;
        GlobalValue *globals;
        size_t n_globals;
        char **metadata;        /* "key=value" */
        char *group;            /* application name; NULL: none */
        uint32_t map_owner_id;  /* 0: this load owns its maps */
} LoadRequest;

void load_request_done(LoadRequest *req);
/* What to call the object in messages: the image reference or the path. */
const char *load_request_origin(const LoadRequest *req) _pure_;

/* Parses "NAME=HEX" (hex digits, optional 0x). */
int global_value_parse(const char *s, GlobalValue *ret);
void global_value_done(GlobalValue *g);

/* What bpfhub remembers of a loaded program (the record in the state dir). */
typedef struct Program {
        uint32_t id;            /* kernel program id */
        char *name;
        ProgramType type;
        char *path;             /* the object file, or the image reference */
        char *image_digest;     /* the image's manifest digest, or NULL for a file */
        char *group;
        uint32_t group_id;      /* id of the group's first program */
        uint32_t map_owner_id;  /* whose pinned maps it uses (itself for an owner) */
        char *attach_func;
        char **metadata;
        char **globals;         /* "NAME=hex" as given */
        uint64_t loaded_usec;   /* CLOCK_REALTIME */
} Program;

Program *program_free(Program *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(Program *, program_free);

int program_to_json(const Program *p, json_object **ret);
int program_from_json(json_object *j, Program **ret);

/* Where things are pinned below the bpffs root. */
char *program_pin_path(const char *bpffs_root, uint32_t id);
char *map_pin_dir(const char *bpffs_root, uint32_t owner_id);

/* Loads the programs of req from one object, as one group sharing maps and
 * globals, pins them (and the object's maps) below bpffs_root and returns
 * the Program descriptions, in request order. On failure nothing is left
 * pinned or loaded and *err says why. Does not write records. */
int program_load(const char *bpffs_root, const KernelFeatures *kf, const LoadRequest *req,
                 Program ***ret, size_t *ret_n, ErrorInfo *err);

/* Opens object_path again for a second copy of program "name", as it was
 * loaded (loaded_fd): only that program will load, the globals ("NAME=hex")
 * are set as before and every map the loaded program uses is reused, so
 * both copies share their state. The caller loads it (libxdp loads it as a
 * freplace extension of its dispatcher) and closes it. */
int program_open_copy(const char *object_path, const char *name, char *const *globals, int loaded_fd,
                      struct bpf_object **ret, ErrorInfo *err);

/* Unpins the program; the kernel frees it when its last link goes. */
int program_unpin(const char *bpffs_root, uint32_t id);

/* Opens the pinned program, verifying it still is kernel program "id". */
int program_open_pinned(const char *bpffs_root, uint32_t id);

/* Kernel state of a program fd, as JSON: name, type, tag, gpl,
 * loadedAtUSec, mapIds, btfId, translatedBytes, jitedBytes, memlockBytes,
 * verifiedInstructions, createdByUid. */
int program_kernel_info(int fd, json_object **ret);
/* The kernel's info on program fd and the ids of the maps it uses (the
 * caller frees them; info's map_ids pointer is cleared). */
int program_info_maps(int fd, struct bpf_prog_info *ret_info, uint32_t **ret_map_ids, uint32_t *ret_n_maps);
int program_kernel_info_by_id(uint32_t id, json_object **ret);

/* Makes sure bpffs_root lies on a bpf file system, mounting one (at
 * /sys/fs/bpf for the default layout, else at bpffs_root itself) when it
 * does not. Must run before anything unshares the mount namespace, or the
 * mount would be invisible to everybody else. */
int bpffs_ensure(const char *bpffs_root);
