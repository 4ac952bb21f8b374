/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* XDP through libxdp, so that bpfhubd's programs share an interface's XDP
 * hook with xdp-loader and every other libxdp user. Where the kernel runs
 * freplace, libxdp's dispatcher calls up to XDP_PROGRAMS_MAX programs in
 * run_prio order (bpfhub's priority), going on to the next one only for
 * the actions in its chain_call_actions (bpfhub's proceed-on); each program
 * on the hook is then a freplace copy of the loaded program that shares its
 * maps. Elsewhere libxdp's single-program mode attaches the loaded program
 * itself, one per interface. All functions work in the current network
 * namespace. */

#include <stdbool.h>
#include <stdint.h>

#include "errors.h"

#define XDP_PROGRAMS_MAX 10     /* libxdp's dispatcher has ten slots */

/* Proceed-on names (aborted, drop, pass, tx, redirect, dispatcher_return)
 * to libxdp's chain_call_actions bits; NULL or empty: pass and
 * dispatcher_return, as bpfman and libxdp default to. */
int xdp_proceed_on_parse(char *const *names, uint32_t *ret_actions, ErrorInfo *err);

typedef struct XdpAttachRequest {
        int ifindex;
        const char *iface;              /* for messages */
        int prog_fd;                    /* the loaded XDP program */
        bool dispatcher;                /* the kernel runs libxdp's dispatcher */
        const char *object_path;        /* dispatcher: the program's object, for the freplace copy */
        const char *program_name;
        char *const *globals;           /* "NAME=hex", as loaded */
        uint32_t priority;
        char *const *proceed_on;
        const char *mode;               /* "native", "generic", NULL: the dispatcher's, or native falling back to generic */
} XdpAttachRequest;

typedef struct XdpAttachment {
        uint32_t program_id;            /* what runs on the hook: the freplace copy, or the program itself */
        const char *mode;               /* "native" or "generic" (static) */
} XdpAttachment;

int xdp_attach(const XdpAttachRequest *req, XdpAttachment *ret, ErrorInfo *err);

/* Takes program_id off the interface's hook, leaving the others running;
 * 0 also when it is gone already. */
int xdp_detach(int ifindex, uint32_t program_id);

typedef struct XdpHookProgram {
        uint32_t program_id;
        uint32_t position;              /* 0 runs first */
        uint32_t dispatcher_id;         /* 0: attached directly */
        uint32_t run_prio;
        const char *mode;               /* "native", "generic", "offload" */
} XdpHookProgram;

/* Every program on the interface's XDP hook in run order, the dispatcher's
 * components included, whoever attached them. */
int xdp_hook_programs(int ifindex, XdpHookProgram *ret, size_t max, size_t *ret_n);

/* Where program_id runs on the hook, -ENOENT when it is not there. */
int xdp_position(int ifindex, uint32_t program_id, uint32_t *ret);
