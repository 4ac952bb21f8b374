/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "state.h"

typedef struct ProgramFilter {
        ProgramType type;       /* _PROGRAM_TYPE_INVALID: any */
        char *kernel_type;      /* with all: kernel type name ("xdp", "sched_cls", ...), NULL: any */
        char **metadata;        /* "k=v" that must all be present */
        char *group;
        bool all;               /* also programs bpfhub does not manage */
} ProgramFilter;

void program_filter_done(ProgramFilter *f);

/* [{ "id", "managed", "bpfhub": {...record...}|null, "kernel": {...}|null }] */
int inventory_list(State *s, const ProgramFilter *f, json_object **ret);

/* { "bpfhub": {...record..., "links": [...]}, "kernel": {...} }; -ENOENT
 * when the program is not managed. */
int inventory_get(State *s, uint32_t id, json_object **ret);
