/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <bpf/libbpf.h>
#include <inttypes.h>
#include <linux/if_link.h>
#include <stdarg.h>
#include <stdio.h>
#include <xdp/libxdp.h>

#include "log.h"
#include "program.h"
#include "xdp.h"

/* XDP_DISPATCHER_RETVAL in libxdp's prog_dispatcher.h: the action a
 * dispatcher slot without a program returns. */
#define DISPATCHER_RETURN 31

static const struct {
        const char *name;
        unsigned action;
} proceed_on_names[] = {
        { "aborted", XDP_ABORTED }, { "drop", XDP_DROP },         { "pass", XDP_PASS },
        { "tx", XDP_TX },           { "redirect", XDP_REDIRECT }, { "dispatcher_return", DISPATCHER_RETURN },
};

int xdp_proceed_on_parse(char *const *names, uint32_t *ret_actions, ErrorInfo *err) {
        uint32_t actions = 0;

        if (!names || !names[0]) {
                *ret_actions = 1U << XDP_PASS | 1U << DISPATCHER_RETURN;
                return 0;
        }
        STRV_FOREACH(n, names) {
                size_t i;
                for (i = 0; i < ELEMENTSOF(proceed_on_names); i++)
                        if (streq(*n, proceed_on_names[i].name))
                                break;
                if (i == ELEMENTSOF(proceed_on_names))
                        return error_info_set(err, EINVAL, NULL,
                                              "Unknown XDP proceed-on action '%.64s' (aborted, drop, pass, tx, redirect, "
                                              "dispatcher_return).", *n);
                actions |= 1U << proceed_on_names[i].action;
        }
        *ret_actions = actions;
        return 0;
}

/* libxdp's own explanations, for the error message when it refuses. */
static char libxdp_said[512];

static int capture_libxdp(enum libxdp_print_level level, const char *fmt, va_list ap) {
        char line[sizeof libxdp_said];

        (void) vsnprintf(line, sizeof line, fmt, ap);
        line[strcspn(line, "\n")] = '\0';
        log_debug("libxdp: %s", line);
        if (level != LIBXDP_DEBUG && line[0])
                (void) snprintf(libxdp_said, sizeof libxdp_said, "%s", line);
        return 0;
}

/* libbpf speaks too when libxdp loads its dispatcher, which this kernel
 * may refuse on the way to single-program mode: into the debug log. */
static int libbpf_to_debug(enum libbpf_print_level level, const char *fmt, va_list ap) {
        char line[512];

        (void) vsnprintf(line, sizeof line, fmt, ap);
        line[strcspn(line, "\n")] = '\0';
        log_debug("libbpf (for libxdp): %s", line);
        return 0;
}

static libbpf_print_fn_t libxdp_listen(void) {
        libxdp_said[0] = '\0';
        (void) libxdp_set_print(capture_libxdp);
        return libbpf_set_print(libbpf_to_debug);
}

static void libbpf_restore(libbpf_print_fn_t *old) {
        (void) libbpf_set_print(*old);
}

#define _cleanup_libxdp_listen_ _cleanup_(libbpf_restore) libbpf_print_fn_t _old_print_ = libxdp_listen()

/* libxdp's older calls return errors encoded in the pointer. */
static int ptr_error(const void *p) {
        long e = libxdp_get_error(p);

        if (p && e == 0)
                return 0;
        return e < 0 ? (int) e : -EINVAL;
}

static const char *mode_name(enum xdp_attach_mode m) {
        switch (m) {
        case XDP_MODE_NATIVE: return "native";
        case XDP_MODE_SKB:    return "generic";
        case XDP_MODE_HW:     return "offload";
        default:              return "unknown";
        }
}

static void multiprog_closep(struct xdp_multiprog **mp) {
        if (*mp && ptr_error(*mp) == 0)
                xdp_multiprog__close(*mp);
}

static void program_closep(struct xdp_program **p) {
        if (*p && ptr_error(*p) == 0)
                xdp_program__close(*p);
}

/* What is on the hook now. */
typedef struct HookState {
        bool any;
        bool dispatcher;
        enum xdp_attach_mode mode;
        uint32_t main_id;
        int count;
} HookState;

static void hook_state(int ifindex, HookState *ret) {
        _cleanup_(multiprog_closep) struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);
        struct xdp_program *main_prog;

        *ret = (HookState) {};
        if (ptr_error(mp) < 0)
                return;
        main_prog = xdp_multiprog__main_prog(mp);
        if (!main_prog)
                return;
        *ret = (HookState) {
                .any = true,
                .dispatcher = !xdp_multiprog__is_legacy(mp),
                .mode = xdp_multiprog__attach_mode(mp),
                .main_id = xdp_program__id(main_prog),
                .count = xdp_multiprog__program_count(mp),
        };
}

static enum xdp_attach_mode requested_mode(const char *mode) {
        if (!mode)
                return XDP_MODE_UNSPEC;
        return streq(mode, "generic") ? XDP_MODE_SKB : XDP_MODE_NATIVE;
}

/* The xdp_program libxdp attaches: a freplace copy made from the object for
 * the dispatcher, the loaded program itself for single-program mode. */
static int make_program(const XdpAttachRequest *req, uint32_t actions, struct bpf_object **ret_obj,
                        struct xdp_program **ret, ErrorInfo *err) {
        struct xdp_program *p;
        int r;

        if (req->dispatcher) {
                if (!req->object_path)
                        return error_info_set(err, ENOENT, NULL,
                                              "bpfhubd kept no copy of this program's object (it was loaded by an older "
                                              "version); unload it and load it again to share the XDP hook.");
                r = program_open_copy(req->object_path, req->program_name, req->globals, req->prog_fd, ret_obj, err);
                if (r < 0)
                        return r;
                p = xdp_program__create(&(struct xdp_program_opts) {
                        .sz = sizeof(struct xdp_program_opts), .obj = *ret_obj, .prog_name = req->program_name });
        } else
                p = xdp_program__from_fd(req->prog_fd);
        r = ptr_error(p);
        if (r < 0)
                return error_info_set(err, r, NULL, "libxdp cannot use program %s: %s", req->program_name,
                                      libxdp_said[0] ? libxdp_said : strerror(-r));

        /* A loaded program's run config is fixed; single-program mode needs none. */
        r = req->dispatcher ? xdp_program__set_run_prio(p, req->priority) : 0;
        for (size_t i = 0; req->dispatcher && r >= 0 && i < ELEMENTSOF(proceed_on_names); i++)
                if (proceed_on_names[i].action != DISPATCHER_RETURN)     /* libxdp always adds it */
                        r = xdp_program__set_chain_call_enabled(p, proceed_on_names[i].action,
                                                                actions & (1U << proceed_on_names[i].action));
        if (r < 0) {
                xdp_program__close(p);
                return error_info_set(err, r, NULL, "libxdp refused the run config of %s: %s", req->program_name, strerror(-r));
        }
        *ret = p;
        return 0;
}

static int explain_busy(const XdpAttachRequest *req, const HookState *hs, ErrorInfo *err) {
        if (!req->dispatcher)
                return error_info_set(err, EBUSY, BUS_ERROR_INTERFACE_BUSY,
                                      "Interface %s already has XDP program %" PRIu32 "; this kernel cannot run libxdp's "
                                      "dispatcher (no freplace), so the XDP hook takes one program at a time.",
                                      req->iface, hs->main_id);
        return error_info_set(err, EBUSY, BUS_ERROR_INTERFACE_BUSY,
                              "Interface %s has XDP program %" PRIu32 " attached without libxdp's dispatcher; only "
                              "programs attached through libxdp (bpfhubd, xdp-loader) can share the hook. "
                              "Detach it first.", req->iface, hs->main_id);
}

int xdp_attach(const XdpAttachRequest *req, XdpAttachment *ret, ErrorInfo *err) {
        struct xdp_program *p = NULL;   /* closed at finish, before the object it may use */
        struct bpf_object *obj = NULL;
        HookState hs;
        enum xdp_attach_mode modes[2], want;
        int n_modes = 0, r = 0;
        uint32_t actions;

        r = xdp_proceed_on_parse(req->proceed_on, &actions, err);
        if (r < 0)
                return r;
        _cleanup_libxdp_listen_;

        hook_state(req->ifindex, &hs);
        want = requested_mode(req->mode);
        if (hs.any && (!hs.dispatcher || !req->dispatcher))
                return explain_busy(req, &hs, err);
        if (hs.any && hs.count >= XDP_PROGRAMS_MAX)
                return error_info_set(err, E2BIG, BUS_ERROR_LIMITS_EXCEEDED,
                                      "Interface %s already runs %d XDP programs, as many as libxdp's dispatcher takes.",
                                      req->iface, hs.count);
        if (hs.any && want != XDP_MODE_UNSPEC && want != hs.mode)
                return error_info_set(err, EBUSY, BUS_ERROR_INTERFACE_BUSY,
                                      "The XDP dispatcher on %s runs in %s mode; programs join it in that mode "
                                      "(ask for %s or for no mode).", req->iface, mode_name(hs.mode), mode_name(hs.mode));

        /* Native first, generic where the driver has no XDP support. */
        if (hs.any)
                modes[n_modes++] = hs.mode;
        else if (want != XDP_MODE_UNSPEC)
                modes[n_modes++] = want;
        else {
                modes[n_modes++] = XDP_MODE_NATIVE;
                modes[n_modes++] = XDP_MODE_SKB;
        }

        r = make_program(req, actions, &obj, &p, err);
        if (r < 0)
                goto finish;
        for (int i = 0; i < n_modes; i++) {
                r = xdp_program__attach(p, req->ifindex, modes[i], 0);
                if (r >= 0) {
                        *ret = (XdpAttachment) { .program_id = xdp_program__id(p), .mode = mode_name(modes[i]) };
                        goto finish;
                }
                if (r != -EOPNOTSUPP && r != -EINVAL)
                        break;
        }

        if (r == -EBUSY || r == -EEXIST) {
                hook_state(req->ifindex, &hs);
                r = explain_busy(req, &hs, err);
        } else if (r == -E2BIG)
                r = error_info_set(err, E2BIG, BUS_ERROR_LIMITS_EXCEEDED,
                                   "libxdp's dispatcher on %s is full (%d programs).", req->iface, XDP_PROGRAMS_MAX);
        else
                r = error_info_set(err, r, NULL, "Cannot attach XDP program %s to %s (%s mode): %s", req->program_name,
                                   req->iface, req->mode ?: hs.any ? mode_name(hs.mode) : "native or generic",
                                   libxdp_said[0] ? libxdp_said : strerror(-r));
finish:
        /* The kernel holds what libxdp attached (and pinned); our copies go. */
        program_closep(&p);
        bpf_object__close(obj);
        return r;
}

int xdp_detach(int ifindex, uint32_t program_id) {
        _cleanup_(program_closep) struct xdp_program *p = NULL;
        HookState hs;
        uint32_t position;
        int r;

        _cleanup_libxdp_listen_;
        if (xdp_position(ifindex, program_id, &position) == -ENOENT)
                return 0;
        hook_state(ifindex, &hs);
        p = xdp_program__from_id(program_id);
        r = ptr_error(p);
        if (r < 0)
                return r == -ENOENT ? 0 : r;
        r = xdp_program__detach(p, ifindex, hs.mode, 0);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                log_debug("libxdp could not detach XDP program %" PRIu32 ": %s", program_id,
                          libxdp_said[0] ? libxdp_said : strerror(-r));
        return r;
}

int xdp_hook_programs(int ifindex, XdpHookProgram *ret, size_t max, size_t *ret_n) {
        _cleanup_(multiprog_closep) struct xdp_multiprog *mp = NULL;
        struct xdp_program *main_prog, *hw;
        size_t n = 0;

        _cleanup_libxdp_listen_;
        mp = xdp_multiprog__get_from_ifindex(ifindex);
        *ret_n = 0;
        if (ptr_error(mp) < 0) {
                int r = ptr_error(mp);
                mp = NULL;
                return r == -ENOENT ? 0 : r;
        }
        main_prog = xdp_multiprog__main_prog(mp);
        if (main_prog && xdp_multiprog__is_legacy(mp)) {
                if (n >= max)
                        return -E2BIG;
                ret[n++] = (XdpHookProgram) { .program_id = xdp_program__id(main_prog), .position = 0,
                                              .mode = mode_name(xdp_multiprog__attach_mode(mp)) };
        } else if (main_prog) {
                uint32_t position = 0;
                for (struct xdp_program *c = xdp_multiprog__next_prog(NULL, mp); c; c = xdp_multiprog__next_prog(c, mp)) {
                        if (n >= max)
                                return -E2BIG;
                        ret[n++] = (XdpHookProgram) { .program_id = xdp_program__id(c), .position = position++,
                                                      .dispatcher_id = xdp_program__id(main_prog),
                                                      .run_prio = xdp_program__run_prio(c),
                                                      .mode = mode_name(xdp_multiprog__attach_mode(mp)) };
                }
        }
        hw = xdp_multiprog__hw_prog(mp);
        if (hw) {
                if (n >= max)
                        return -E2BIG;
                ret[n++] = (XdpHookProgram) { .program_id = xdp_program__id(hw), .position = 0, .mode = "offload" };
        }
        *ret_n = n;
        return 0;
}

int xdp_position(int ifindex, uint32_t program_id, uint32_t *ret) {
        XdpHookProgram entries[XDP_PROGRAMS_MAX + 2];
        size_t n;
        int r;

        r = xdp_hook_programs(ifindex, entries, ELEMENTSOF(entries), &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                if (entries[i].program_id == program_id) {
                        *ret = entries[i].position;
                        return 0;
                }
        return -ENOENT;
}
