/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-c/json.h>
#include <stdint.h>

#include "kernel-features.h"
#include "program.h"
#include "xdp.h"

typedef enum LinkKind {
        LINK_XDP,
        LINK_TC,
        LINK_TCX,
        LINK_TRACEPOINT,
        LINK_KPROBE,
        LINK_KRETPROBE,
        LINK_UPROBE,
        LINK_URETPROBE,
        LINK_FENTRY,
        LINK_FEXIT,
        LINK_CGROUP,
        _LINK_KIND_MAX,
        _LINK_KIND_INVALID = -EINVAL,
} LinkKind;

const char *link_kind_to_string(LinkKind k) _const_;
LinkKind link_kind_from_string(const char *s) _pure_;
/* Which program types a kind accepts. */
bool link_kind_accepts(LinkKind k, ProgramType t) _const_;

#define PRIORITY_MIN 1
#define PRIORITY_MAX 1000

/* An attachment: what the caller asked for plus what the kernel handed out. */
typedef struct Link {
        uint32_t id;            /* bpfhub link id */
        uint32_t program_id;
        LinkKind kind;
        bool complete;          /* false: the record was written before attaching */

        char *iface;            /* xdp, tc, tcx */
        char *netns;            /* path of a network namespace, NULL: ours */
        char *direction;        /* tc, tcx: "ingress" or "egress" */
        int32_t priority;       /* xdp, tc, tcx: 1..1000, lower runs first */
        char **proceed_on;      /* xdp, tc */
        char *mode;             /* xdp: "native", "generic" or NULL (native, falling back to generic) */
        char *tracepoint;       /* "group/name" */
        char *function;         /* kprobe, uprobe, fentry/fexit */
        uint64_t offset;        /* kprobe, uprobe */
        char *target;           /* uprobe: binary or library */
        int32_t pid;            /* uprobe: 0 = all */
        char *cgroup;           /* cgroup: path in the cgroup2 hierarchy */
        char *attach_type;      /* cgroup: ingress, egress, sock_create, connect4, ... */

        /* Filled in by the attach. */
        int ifindex;
        char *mode_used;        /* xdp: what the kernel accepted */
        uint32_t kernel_link_id;/* 0 for legacy tc filters and XDP (attached by libxdp through netlink) */
        uint32_t attached_program_id; /* xdp: what runs on the hook: the freplace copy under libxdp's dispatcher, or the program */
        bool xdp_dispatcher;    /* xdp: shares the hook through libxdp's dispatcher */
        uint32_t tc_handle;
        uint32_t tc_priority;
        bool tc_created_clsact;
        uint64_t attached_usec;
} Link;

Link *link_free(Link *l);
DEFINE_TRIVIAL_CLEANUP_FUNC(Link *, link_free);

int link_to_json(const Link *l, json_object **ret);
int link_from_json(json_object *j, Link **ret);

char *link_pin_path(const char *bpffs_root, uint32_t id);

/* Validates the attach parameters for the kind (no kernel access). */
int link_validate(const Link *l, ProgramType program_type, const KernelFeatures *kf, ErrorInfo *err);

/* Where a new TCX link goes among the links bpfhub already has on the same
 * hook: before the first with a higher priority number (ties: after the
 * ones already there, so the first attached runs first), else after the
 * last. relative_link_id 0 means "append". */
typedef struct TcxPlacement {
        uint32_t relative_link_id;
        bool before;
} TcxPlacement;

TcxPlacement tcx_placement(Link *const *existing, size_t n, const Link *l);

/* Program ids on a TCX hook in run order (for tests and `get`). */
int tcx_query(int ifindex, bool ingress, uint32_t *prog_ids, uint32_t *n, uint64_t *ret_revision);

/* One program on one of an interface's hooks, in run order. */
typedef struct HookEntry {
        const char *hook;       /* "xdp", "tc-ingress", "tc-egress" (legacy cls_bpf), "tcx-ingress", "tcx-egress" */
        uint32_t position;      /* 0 runs first */
        uint32_t program_id;
        const char *mode;       /* xdp: "native", "generic" or "offload" */
        uint32_t dispatcher_id; /* xdp: libxdp's dispatcher the program runs under, 0: none */
        uint32_t run_prio;      /* xdp under a dispatcher: libxdp's run_prio */
} HookEntry;

#define HOOK_ENTRIES_MAX 256

/* Every program on the XDP, tc (clsact cls_bpf) and TCX hooks of iface (in netns, or here when
 * NULL), whoever attached it, in run order per hook. */
int link_hook_programs(const char *iface, const char *netns, HookEntry **ret, size_t *ret_n, ErrorInfo *err);

/* Where l runs on its hook (0 first), or -EOPNOTSUPP for kinds without an
 * order bpfhub can read, -ENOENT when it is not on the hook. */
int link_position(const Link *l, uint32_t *ret);

/* What an attach needs to know of the program beyond its pin: XDP under
 * libxdp's dispatcher runs a freplace copy made from the object. */
typedef struct LinkProgram {
        const char *name;
        char *const *globals;           /* "NAME=hex", as loaded */
        const char *object_path;        /* the kept object, or NULL */
        bool xdp_dispatcher;            /* the kernel runs libxdp's dispatcher */
} LinkProgram;

/* Attaches pinned program l->program_id as described by l, pins the kernel
 * link at link_pin_path(l->id) (XDP: libxdp pins its own) and fills in the
 * kernel side of l. On error nothing stays attached. */
int link_attach(const char *bpffs_root, Link *l, const LinkProgram *prog, const TcxPlacement *placement,
                ErrorInfo *err);

/* Undoes link_attach(); a link that is already gone is fine. */
int link_detach(const char *bpffs_root, const Link *l);

/* Whether the clsact qdisc of the link's interface still holds any filter
 * (bpfhub's or anybody's), in either direction. */
int tc_hook_has_filters(const Link *l);
/* Removes the clsact qdisc of the link's interface. */
int tc_hook_destroy(const Link *l);

/* For an XDP link record written before an attach that a crash cut short:
 * what that attach may have put on the hook — the program itself
 * (single-program mode) or a freplace copy of it (same name and tag, using
 * the same maps), in run order, and the interface's index. The caller drops
 * the ones other records claim. */
int link_xdp_attached_candidates(const Link *l, XdpHookProgram *ret, size_t max, size_t *ret_n, int *ret_ifindex);

/* Whether what l describes still exists in the kernel (reconciliation). */
bool link_exists(const char *bpffs_root, const Link *l);

/* The cgroup attach type names and their kernel values. */
int cgroup_attach_type_from_string(const char *s);
