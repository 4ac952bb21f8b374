/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "errors.h"
#include "state.h"

typedef struct ProgramFilter {
        ProgramType type;       /* _PROGRAM_TYPE_INVALID: any */
        char *kernel_type;      /* with all: kernel type name ("xdp", "sched_cls", ...), NULL: any */
        char **metadata;        /* "k=v" that must all be present */
        char *group;
        bool all;               /* also programs bpfhub does not manage */
        char *iface;            /* instead: every program on this interface's hooks, in run order */
        char *netns;            /* the interface's network namespace (a path), NULL: ours */
} ProgramFilter;

void program_filter_done(ProgramFilter *f);

/* [{ "id", "managed", "bpfhub": {...record...}|null, "kernel": {...}|null }] */
int inventory_list(State *s, const ProgramFilter *f, json_object **ret);
/* With f->iface: [{ "hook", "position", "mode"|null, "id", "managed", "bpfhub", "kernel" }]
 * in run order per hook (xdp, tcx-ingress, tcx-egress), programs bpfhub did
 * not attach included; the other filters apply to managed programs. */
int inventory_list_iface(State *s, const ProgramFilter *f, json_object **ret, ErrorInfo *err);

/* { "bpfhub": {...record..., "links": [...]}, "kernel": {...} }; -ENOENT
 * when the program is not managed. */
int inventory_get(State *s, uint32_t id, json_object **ret);
