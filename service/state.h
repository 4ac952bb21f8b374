/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "link.h"
#include "program.h"

/* Everything bpfhub manages, backed by records in the state directory and
 * pins below the bpffs root. Records are written atomically; an attach
 * writes an incomplete record first so that a crash mid-attach is
 * recognised when the daemon starts again. */
typedef struct State {
        char *state_dir;
        char *bpffs_root;
        Program **programs;
        size_t n_programs;
        Link **links;
        size_t n_links;
        uint32_t next_link_id;
        /* Test hook: pause this long between attaching and completing the
         * record, so a test can kill the daemon right there. */
        uint64_t pause_after_attach_usec;
} State;

typedef struct ReconcileReport {
        unsigned programs_kept, programs_dropped, orphan_programs_unpinned;
        unsigned links_kept, links_dropped, orphan_links_detached, incomplete_links_completed;
        unsigned map_dirs_removed;
} ReconcileReport;

/* Reads the records and reconciles them with bpffs and the kernel. */
int state_open(const char *state_dir, const char *bpffs_root, State **ret, ReconcileReport *report);
State *state_free(State *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(State *, state_free);

Program *state_find_program(State *s, uint32_t id);
Link *state_find_link(State *s, uint32_t id);
/* The XDP link whose program on the hook (libxdp's freplace copy) is kernel program id. */
Link *state_find_xdp_link_running(State *s, uint32_t kernel_program_id);
/* The links of a program, in attach order (array owned by the caller, links by the state). */
size_t state_program_links(State *s, uint32_t program_id, Link ***ret);

/* Loads and records; the new programs stay owned by the state. */
int state_load(State *s, const KernelFeatures *kf, const LoadRequest *req, Program ***ret, size_t *ret_n,
               ErrorInfo *err);
/* Attaches and records; takes ownership of l (its id is assigned here). */
int state_attach(State *s, const KernelFeatures *kf, Link *l, Link **ret, ErrorInfo *err);
int state_detach(State *s, uint32_t link_id);
/* Detaches the program's links, unpins it, drops its records and, with the
 * last user, its pinned maps. */
int state_unload(State *s, uint32_t program_id);
