/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <linux/perf_event.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>

#include "errors.h"
#include "fileio.h"
#include "json-util.h"
#include "link.h"
#include "log.h"
#include "time-util.h"
#include "xdp.h"

#ifndef BPF_TCX_INGRESS
#define BPF_TCX_INGRESS 46
#define BPF_TCX_EGRESS 47
#endif
#ifndef TRACEFS_MAGIC
#define TRACEFS_MAGIC 0x74726163
#endif

static const char *const link_kind_names[_LINK_KIND_MAX] = {
        [LINK_XDP] = "xdp",           [LINK_TC] = "tc",
        [LINK_TCX] = "tcx",           [LINK_TRACEPOINT] = "tracepoint",
        [LINK_KPROBE] = "kprobe",     [LINK_KRETPROBE] = "kretprobe",
        [LINK_UPROBE] = "uprobe",     [LINK_URETPROBE] = "uretprobe",
        [LINK_FENTRY] = "fentry",     [LINK_FEXIT] = "fexit",
        [LINK_CGROUP] = "cgroup",
};

const char *link_kind_to_string(LinkKind k) {
        return k >= 0 && k < _LINK_KIND_MAX ? link_kind_names[k] : NULL;
}

LinkKind link_kind_from_string(const char *s) {
        for (int i = 0; s && i < _LINK_KIND_MAX; i++)
                if (streq(link_kind_names[i], s))
                        return (LinkKind) i;
        return _LINK_KIND_INVALID;
}

bool link_kind_accepts(LinkKind k, ProgramType t) {
        switch (k) {
        case LINK_XDP:        return t == PROGRAM_XDP;
        case LINK_TC:         return t == PROGRAM_TC || t == PROGRAM_TCX;
        case LINK_TCX:        return t == PROGRAM_TCX || t == PROGRAM_TC;
        case LINK_TRACEPOINT: return t == PROGRAM_TRACEPOINT;
        case LINK_KPROBE:
        case LINK_KRETPROBE:  return t == PROGRAM_KPROBE;
        case LINK_UPROBE:
        case LINK_URETPROBE:  return t == PROGRAM_UPROBE;
        case LINK_FENTRY:     return t == PROGRAM_FENTRY;
        case LINK_FEXIT:      return t == PROGRAM_FEXIT;
        case LINK_CGROUP:     return t == PROGRAM_CGROUP;
        default:              return false;
        }
}

static const struct {
        const char *name;
        enum bpf_attach_type type;
} cgroup_attach_types[] = {
        { "ingress", BPF_CGROUP_INET_INGRESS },        { "egress", BPF_CGROUP_INET_EGRESS },
        { "sock_create", BPF_CGROUP_INET_SOCK_CREATE }, { "sock_release", BPF_CGROUP_INET_SOCK_RELEASE },
        { "connect4", BPF_CGROUP_INET4_CONNECT },      { "connect6", BPF_CGROUP_INET6_CONNECT },
        { "bind4", BPF_CGROUP_INET4_BIND },            { "bind6", BPF_CGROUP_INET6_BIND },
        { "post_bind4", BPF_CGROUP_INET4_POST_BIND },  { "post_bind6", BPF_CGROUP_INET6_POST_BIND },
        { "sendmsg4", BPF_CGROUP_UDP4_SENDMSG },       { "sendmsg6", BPF_CGROUP_UDP6_SENDMSG },
        { "recvmsg4", BPF_CGROUP_UDP4_RECVMSG },       { "recvmsg6", BPF_CGROUP_UDP6_RECVMSG },
        { "getpeername4", BPF_CGROUP_INET4_GETPEERNAME }, { "getpeername6", BPF_CGROUP_INET6_GETPEERNAME },
        { "getsockname4", BPF_CGROUP_INET4_GETSOCKNAME }, { "getsockname6", BPF_CGROUP_INET6_GETSOCKNAME },
        { "getsockopt", BPF_CGROUP_GETSOCKOPT },       { "setsockopt", BPF_CGROUP_SETSOCKOPT },
        { "sysctl", BPF_CGROUP_SYSCTL },               { "device", BPF_CGROUP_DEVICE },
        { "sock_ops", BPF_CGROUP_SOCK_OPS },
};

int cgroup_attach_type_from_string(const char *s) {
        for (size_t i = 0; s && i < ELEMENTSOF(cgroup_attach_types); i++)
                if (streq(cgroup_attach_types[i].name, s))
                        return (int) cgroup_attach_types[i].type;
        return -EINVAL;
}

Link *link_free(Link *l) {
        if (!l)
                return NULL;
        free(l->iface);
        free(l->netns);
        free(l->direction);
        strv_free(l->proceed_on);
        free(l->mode);
        free(l->tracepoint);
        free(l->function);
        free(l->target);
        free(l->cgroup);
        free(l->attach_type);
        free(l->mode_used);
        return mfree(l);
}

char *link_pin_path(const char *bpffs_root, uint32_t id) {
        char *p;
        return asprintf(&p, "%s/links/%" PRIu32, bpffs_root, id) < 0 ? NULL : p;
}

static bool is_direction(const char *d) {
        return d && (streq(d, "ingress") || streq(d, "egress"));
}

static bool valid_name(const char *s, size_t max) {
        size_t n = s ? strlen(s) : 0;

        if (n == 0 || n > max)
                return false;
        for (size_t i = 0; i < n; i++)
                if ((unsigned char) s[i] <= ' ' || s[i] == 0x7f)
                        return false;
        return true;
}

int link_validate(const Link *l, ProgramType program_type, const KernelFeatures *kf, ErrorInfo *err) {
        static const char *const feature[_LINK_KIND_MAX] = {
                [LINK_XDP] = "xdp", [LINK_TC] = "sched_cls", [LINK_TCX] = "tcx",
                [LINK_TRACEPOINT] = "tracepoint", [LINK_KPROBE] = "kprobe", [LINK_KRETPROBE] = "kprobe",
                [LINK_UPROBE] = "uprobe", [LINK_URETPROBE] = "uprobe", [LINK_FENTRY] = "tracing",
                [LINK_FEXIT] = "tracing", [LINK_CGROUP] = "bpf_link",
        };
        const KernelFeature *f;

        *err = (ErrorInfo) {};
        if (l->kind < 0 || l->kind >= _LINK_KIND_MAX)
                return error_info_set(err, EINVAL, NULL, "Unknown attach kind.");
        if (!link_kind_accepts(l->kind, program_type))
                return error_info_set(err, EINVAL, NULL, "A %s program cannot be attached as %s.",
                                   program_type_to_string(program_type), link_kind_to_string(l->kind));
        f = kernel_features_find(kf, feature[l->kind]);
        if (f && !f->supported)
                return error_info_set(err, EOPNOTSUPP, BUS_ERROR_UNSUPPORTED_BY_KERNEL,
                                   "This kernel cannot attach %s programs: %s (kernel feature '%s').",
                                   link_kind_to_string(l->kind), f->detail, f->name);

        switch (l->kind) {
        case LINK_XDP:
        case LINK_TC:
        case LINK_TCX:
                if (!valid_name(l->iface, IFNAMSIZ - 1))
                        return error_info_set(err, EINVAL, NULL, "An interface name is required (at most %d characters).", IFNAMSIZ - 1);
                if (l->priority < PRIORITY_MIN || l->priority > PRIORITY_MAX)
                        return error_info_set(err, EINVAL, NULL, "Priority must be between %d and %d.", PRIORITY_MIN, PRIORITY_MAX);
                if (l->kind != LINK_XDP && !is_direction(l->direction))
                        return error_info_set(err, EINVAL, NULL, "Direction must be 'ingress' or 'egress'.");
                if (l->kind == LINK_XDP && l->mode && !streq(l->mode, "native") && !streq(l->mode, "generic"))
                        return error_info_set(err, EINVAL, NULL, "XDP mode must be 'native' or 'generic'.");
                if (l->kind == LINK_XDP) {
                        uint32_t actions;
                        int r = xdp_proceed_on_parse(l->proceed_on, &actions, err);
                        if (r < 0)
                                return r;
                }
                /* No dispatcher of bpfhub's own sits on the tc hooks: the kernel goes on to the
                 * next program exactly when one returns TC_ACT_UNSPEC (TCX_NEXT). */
                STRV_FOREACH(a, l->kind != LINK_XDP ? l->proceed_on : NULL)
                        if (!streq(*a, "unspec") && !streq(*a, "dispatcher_return"))
                                return error_info_set(err, EINVAL, NULL,
                                                      "tc programs share the hook through the kernel, which runs the next "
                                                      "program only when one returns TC_ACT_UNSPEC (TCX_NEXT): proceed-on "
                                                      "can only be 'unspec', not '%.64s'.", *a);
                if (l->netns && (l->netns[0] != '/' || strlen(l->netns) > 4096))
                        return error_info_set(err, EINVAL, NULL, "The network namespace must be an absolute path such as /run/netns/NAME.");
                break;
        case LINK_TRACEPOINT: {
                const char *slash = l->tracepoint ? strchr(l->tracepoint, '/') : NULL;
                if (!valid_name(l->tracepoint, 256) || !slash || slash == l->tracepoint || !slash[1] ||
                    strchr(slash + 1, '/') || strstr(l->tracepoint, ".."))
                        return error_info_set(err, EINVAL, NULL, "The tracepoint must be GROUP/NAME, e.g. syscalls/sys_enter_openat.");
                break;
        }
        case LINK_KPROBE:
        case LINK_KRETPROBE:
                if (!valid_name(l->function, 256))
                        return error_info_set(err, EINVAL, NULL, "A kernel function name is required.");
                break;
        case LINK_UPROBE:
        case LINK_URETPROBE:
                if (!valid_name(l->target, 4096))
                        return error_info_set(err, EINVAL, NULL, "A target binary or library is required.");
                if (!l->function && l->offset == 0)
                        return error_info_set(err, EINVAL, NULL, "A function name or an offset is required.");
                if (l->function && !valid_name(l->function, 256))
                        return error_info_set(err, EINVAL, NULL, "Invalid function name.");
                if (l->pid < 0)
                        return error_info_set(err, EINVAL, NULL, "Invalid pid.");
                break;
        case LINK_CGROUP:
                if (!valid_name(l->cgroup, 4096) || strstr(l->cgroup, ".."))
                        return error_info_set(err, EINVAL, NULL, "A cgroup path is required (without '..').");
                if (cgroup_attach_type_from_string(l->attach_type) < 0)
                        return error_info_set(err, EINVAL, NULL, "Unknown cgroup attach type '%s'.", strempty(l->attach_type));
                break;
        default:
                break;
        }
        return 0;
}

/* Runs fn inside the network namespace at "path" (or here when NULL). */
static int in_netns(const char *path, int (*fn)(void *userdata), void *userdata) {
        _cleanup_close_ int self = -EBADF, target = -EBADF;
        int r;

        if (!path)
                return fn(userdata);
        self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        target = open(path, O_RDONLY | O_CLOEXEC);
        if (self < 0 || target < 0)
                return -errno;
        if (setns(target, CLONE_NEWNET) < 0)
                return -errno;
        r = fn(userdata);
        if (setns(self, CLONE_NEWNET) < 0)
                abort(); /* stuck in a foreign namespace: nothing sane is left to do */
        return r;
}

static int link_kernel_id(int fd, uint32_t *ret) {
        struct bpf_link_info info = {};
        uint32_t len = sizeof info;

        if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0)
                return -errno;
        *ret = info.id;
        return 0;
}

typedef struct AttachCtx {
        const char *bpffs_root;
        const LinkProgram *program;
        const TcxPlacement *placement;
        Link *link;
        int prog_fd;
        ErrorInfo *err;
        int link_fd;            /* out: the new kernel link */
} AttachCtx;

static int resolve_ifindex(AttachCtx *c) {
        c->link->ifindex = (int) if_nametoindex(c->link->iface);
        if (c->link->ifindex <= 0)
                return error_info_set(c->err, ENODEV, NULL, "No interface '%s'%s%s.", c->link->iface,
                                   c->link->netns ? " in network namespace " : "", strempty(c->link->netns));
        return 0;
}

static int attach_xdp_in_ns(void *userdata) {
        AttachCtx *c = userdata;
        Link *l = c->link;
        XdpAttachment a;
        int r;

        r = resolve_ifindex(c);
        if (r < 0)
                return r;
        XdpAttachRequest req = {
                .ifindex = l->ifindex,
                .iface = l->iface,
                .prog_fd = c->prog_fd,
                .dispatcher = c->program && c->program->xdp_dispatcher,
                .object_path = c->program ? c->program->object_path : NULL,
                .program_name = c->program ? c->program->name : NULL,
                .globals = c->program ? c->program->globals : NULL,
                .priority = (uint32_t) l->priority,
                .proceed_on = l->proceed_on,
                .mode = l->mode,
        };
        r = xdp_attach(&req, &a, c->err);
        if (r < 0)
                return r;
        l->attached_program_id = a.program_id;
        l->xdp_dispatcher = req.dispatcher;
        l->mode_used = strdup(a.mode);
        if (!l->mode_used) {
                (void) xdp_detach(l->ifindex, a.program_id);
                return -ENOMEM;
        }
        return 0;
}

static bool same_tcx_hook(const Link *a, const Link *b) {
        return a->kind == LINK_TCX && streq_ptr(a->iface, b->iface) && streq_ptr(a->netns, b->netns) &&
               streq_ptr(a->direction, b->direction);
}

TcxPlacement tcx_placement(Link *const *existing, size_t n, const Link *l) {
        const Link *before = NULL, *after = NULL;

        /* existing[] is in attach order, and among equal priorities the kernel
         * order is the attach order, so strict comparisons keep the earliest. */
        for (size_t i = 0; i < n; i++) {
                const Link *o = existing[i];

                if (o == l || !o->complete || o->kernel_link_id == 0 || !same_tcx_hook(o, l))
                        continue;
                if (o->priority > l->priority) {
                        if (!before || o->priority < before->priority)
                                before = o;
                } else if (!after || o->priority >= after->priority)
                        after = o;
        }
        if (before)
                return (TcxPlacement) { .relative_link_id = before->kernel_link_id, .before = true };
        if (after)
                return (TcxPlacement) { .relative_link_id = after->kernel_link_id, .before = false };
        return (TcxPlacement) {};
}

/* Raw BPF_LINK_CREATE and BPF_PROG_QUERY for TCX: libbpf 1.1 and Debian 12's
 * uapi headers predate it (Linux 6.6), so the attr layouts are spelled out. */
#define TCX_F_BEFORE (1U << 3)
#define TCX_F_AFTER  (1U << 4)
#define TCX_F_ID     (1U << 5)
#define TCX_F_LINK   (1U << 13)

struct tcx_link_create_attr {
        uint32_t prog_fd;
        uint32_t target_ifindex;
        uint32_t attach_type;
        uint32_t flags;
        uint32_t relative_id;
        uint32_t pad;
        uint64_t expected_revision;
        uint8_t rest[64];       /* the rest of union bpf_attr stays zero */
};

struct tcx_query_attr {
        uint32_t target_ifindex;
        uint32_t attach_type;
        uint32_t query_flags;
        uint32_t attach_flags;
        uint64_t prog_ids;
        uint32_t count;
        uint32_t pad;
        uint64_t prog_attach_flags;
        uint64_t link_ids;
        uint64_t link_attach_flags;
        uint64_t revision;
        uint8_t rest[32];
};

int tcx_query(int ifindex, bool ingress, uint32_t *prog_ids, uint32_t *n, uint64_t *ret_revision) {
        struct tcx_query_attr a = {
                .target_ifindex = (uint32_t) ifindex,
                .attach_type = ingress ? BPF_TCX_INGRESS : BPF_TCX_EGRESS,
                .prog_ids = (uint64_t) (uintptr_t) prog_ids,
                .count = prog_ids ? *n : 0,
        };

        if (syscall(SYS_bpf, BPF_PROG_QUERY, &a, sizeof a) < 0)
                return -errno;
        if (n)
                *n = a.count;
        if (ret_revision)
                *ret_revision = a.revision;
        return 0;
}

static int attach_tcx_in_ns(void *userdata) {
        AttachCtx *c = userdata;
        Link *l = c->link;
        bool ingress = streq(l->direction, "ingress");
        int r;

        r = resolve_ifindex(c);
        if (r < 0)
                return r;

        /* Another attacher may change the hook between our query and our
         * attach: the expected revision makes the kernel refuse (ESTALE)
         * rather than misplace us, and we try again. */
        for (unsigned attempt = 0;; attempt++) {
                struct tcx_link_create_attr a = {
                        .prog_fd = (uint32_t) c->prog_fd,
                        .target_ifindex = (uint32_t) l->ifindex,
                        .attach_type = ingress ? BPF_TCX_INGRESS : BPF_TCX_EGRESS,
                };
                uint64_t revision = 0;

                r = tcx_query(l->ifindex, ingress, NULL, NULL, &revision);
                if (r < 0)
                        return error_info_set(c->err, r, NULL, "Cannot query the TCX %s hook of %s: %s", l->direction,
                                              l->iface, strerror(-r));
                a.expected_revision = revision;
                if (c->placement && c->placement->relative_link_id) {
                        a.flags = (c->placement->before ? TCX_F_BEFORE : TCX_F_AFTER) | TCX_F_ID | TCX_F_LINK;
                        a.relative_id = c->placement->relative_link_id;
                }
                c->link_fd = (int) syscall(SYS_bpf, BPF_LINK_CREATE, &a, sizeof a);
                if (c->link_fd >= 0)
                        return 0;
                if (errno == ESTALE && attempt < 10) {
                        (void) usleep(1000U << attempt);
                        continue;
                }
                return error_info_set(c->err, errno, NULL, "Cannot attach TCX %s on %s: %m", l->direction, l->iface);
        }
}

static int attach_tc_in_ns(void *userdata) {
        AttachCtx *c = userdata;
        Link *l = c->link;
        int r;

        r = resolve_ifindex(c);
        if (r < 0)
                return r;

        LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = l->ifindex,
                    .attach_point = streq(l->direction, "ingress") ? BPF_TC_INGRESS : BPF_TC_EGRESS);
        /* tc priorities: lower runs first, like ours; keep clear of 0 (auto). */
        LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = c->prog_fd, .priority = (uint32_t) l->priority);

        r = bpf_tc_hook_create(&hook);
        if (r < 0 && r != -EEXIST)
                return error_info_set(c->err, r, NULL, "Cannot add the clsact qdisc to %s: %s", l->iface, strerror(-r));
        l->tc_created_clsact = r == 0;

        r = bpf_tc_attach(&hook, &opts);
        if (r < 0) {
                if (l->tc_created_clsact) {
                        hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
                        (void) bpf_tc_hook_destroy(&hook);
                }
                if (r == -EEXIST)
                        return error_info_set(c->err, EBUSY, BUS_ERROR_INTERFACE_BUSY,
                                           "Interface %s already has a tc %s filter at priority %d.", l->iface,
                                           l->direction, l->priority);
                return error_info_set(c->err, r, NULL, "Cannot attach tc %s filter on %s: %s", l->direction, l->iface,
                                   strerror(-r));
        }
        l->tc_handle = opts.handle;
        l->tc_priority = opts.priority;
        return 0;
}

/* tracefs for tracepoint ids: the usual places, or a private mount. */
static int find_tracefs(char **ret) {
        static const char *const candidates[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };
        struct statfs sfs;

        for (size_t i = 0; i < ELEMENTSOF(candidates); i++)
                if (statfs(candidates[i], &sfs) == 0 && sfs.f_type == TRACEFS_MAGIC) {
                        *ret = strdup(candidates[i]);
                        return *ret ? 0 : -ENOMEM;
                }

        /* Not mounted on this host: mount it where only we see it. */
        if (unshare(CLONE_NEWNS) < 0)
                return -errno;
        if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
                return -errno;
        if (mount("tracefs", candidates[0], "tracefs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
                return -errno;
        *ret = strdup(candidates[0]);
        return *ret ? 0 : -ENOMEM;
}

static int perf_event_open_fd(struct perf_event_attr *attr, pid_t pid) {
        int fd = (int) syscall(SYS_perf_event_open, attr, pid > 0 ? pid : -1, pid > 0 ? -1 : 0, -1,
                               PERF_FLAG_FD_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

static int link_perf_event(AttachCtx *c, int pfd, const char *what) {
        c->link_fd = bpf_link_create(c->prog_fd, pfd, BPF_PERF_EVENT, NULL);
        (void) close(pfd); /* the link holds the event */
        if (c->link_fd < 0)
                return error_info_set(c->err, errno, NULL, "Cannot attach to %s: %m", what);
        return 0;
}

static int attach_tracepoint(AttachCtx *c) {
        _cleanup_free_ char *tracefs = NULL, *id_path = NULL, *id_text = NULL;
        struct perf_event_attr attr = { .type = PERF_TYPE_TRACEPOINT, .size = sizeof attr };
        int r, pfd;

        r = find_tracefs(&tracefs);
        if (r < 0)
                return error_info_set(c->err, r, NULL, "No tracefs, and mounting one failed: %s", strerror(-r));
        id_path = strjoin(tracefs, "/events/", c->link->tracepoint, "/id");
        if (!id_path)
                return -ENOMEM;
        r = read_full_file(id_path, 64, &id_text, NULL);
        if (r < 0)
                return error_info_set(c->err, r == -ENOENT ? ENOENT : -r, NULL, "No tracepoint %s (%s): %s",
                                   c->link->tracepoint, id_path, strerror(-r));
        attr.config = strtoull(id_text, NULL, 10);
        pfd = perf_event_open_fd(&attr, -1);
        if (pfd < 0)
                return error_info_set(c->err, pfd, NULL, "perf_event_open for tracepoint %s: %s", c->link->tracepoint,
                                   strerror(-pfd));
        return link_perf_event(c, pfd, c->link->tracepoint);
}

/* The PMU type and the bit that makes a probe a return probe. */
static int probe_pmu(const char *pmu, uint32_t *ret_type, int *ret_retprobe_bit) {
        _cleanup_free_ char *type_path = NULL, *bit_path = NULL, *type = NULL, *bit = NULL;
        int r;

        if (asprintf(&type_path, "/sys/bus/event_source/devices/%s/type", pmu) < 0 ||
            asprintf(&bit_path, "/sys/bus/event_source/devices/%s/format/retprobe", pmu) < 0)
                return -ENOMEM;
        r = read_full_file(type_path, 64, &type, NULL);
        if (r < 0)
                return r;
        *ret_type = (uint32_t) strtoul(type, NULL, 10);
        *ret_retprobe_bit = 0;
        if (read_full_file(bit_path, 64, &bit, NULL) >= 0 && startswith(bit, "config:"))
                *ret_retprobe_bit = atoi(bit + strlen("config:"));
        return 0;
}

static int attach_kprobe(AttachCtx *c) {
        struct perf_event_attr attr = { .size = sizeof attr };
        bool ret = c->link->kind == LINK_KRETPROBE;
        int bit, r, pfd;

        r = probe_pmu("kprobe", &attr.type, &bit);
        if (r < 0)
                return error_info_set(c->err, EOPNOTSUPP, BUS_ERROR_UNSUPPORTED_BY_KERNEL,
                                   "This kernel has no kprobe PMU (CONFIG_KPROBES): %s", strerror(-r));
        attr.config = ret ? 1ULL << bit : 0;
        attr.config1 = (uint64_t) (uintptr_t) c->link->function;
        attr.config2 = c->link->offset;
        pfd = perf_event_open_fd(&attr, -1);
        if (pfd < 0)
                return error_info_set(c->err, pfd, NULL, "Cannot probe kernel function %s: %s", c->link->function,
                                   strerror(-pfd));
        return link_perf_event(c, pfd, c->link->function);
}

static bool is_elf_file(const char *path) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        char magic[SELFMAG];

        return fd >= 0 && read(fd, magic, SELFMAG) == SELFMAG && memcmp(magic, ELFMAG, SELFMAG) == 0;
}

/* A library name like "libc" becomes the first lib<name>.so* found in the
 * usual directories; paths are taken as they are. */
static int resolve_target(const char *target, char **ret) {
        static const char *const dirs[] = {
                "/lib/" MULTIARCH_TRIPLET, "/usr/lib/" MULTIARCH_TRIPLET, "/lib64", "/usr/lib64", "/lib", "/usr/lib",
        };

        if (target[0] == '/') {
                if (access(target, R_OK) < 0)
                        return -errno;
                *ret = strdup(target);
                return *ret ? 0 : -ENOMEM;
        }
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                _cleanup_free_ char *prefix = NULL;
                struct dirent *de;
                DIR *d = opendir(dirs[i]);

                if (!d)
                        continue;
                prefix = strjoin(startswith(target, "lib") ? "" : "lib", target, ".so");
                if (!prefix) {
                        closedir(d);
                        return -ENOMEM;
                }
                while ((de = readdir(d))) {
                        _cleanup_free_ char *candidate = NULL;

                        if (!startswith(de->d_name, prefix))
                                continue;
                        candidate = strjoin(dirs[i], "/", de->d_name);
                        if (!candidate) {
                                closedir(d);
                                return -ENOMEM;
                        }
                        /* libc.so is a linker script next to libc.so.6: only ELF files count. */
                        if (!is_elf_file(candidate))
                                continue;
                        *ret = TAKE_PTR(candidate);
                        closedir(d);
                        return 0;
                }
                closedir(d);
        }
        return -ENOENT;
}

/* File offset of a function symbol, for the uprobe PMU. */
static int elf_function_offset(const char *path, const char *function, uint64_t *ret) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        Elf *elf;
        Elf_Scn *scn = NULL;
        int r = -ENOENT;
        uint64_t vaddr = 0;
        bool found = false;

        if (fd < 0)
                return -errno;
        (void) elf_version(EV_CURRENT);
        elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
        if (!elf)
                return -EBADMSG;

        while (!found && (scn = elf_nextscn(elf, scn))) {
                GElf_Shdr sh;
                Elf_Data *data;

                if (!gelf_getshdr(scn, &sh) || (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM))
                        continue;
                data = elf_getdata(scn, NULL);
                for (size_t i = 0; data && sh.sh_entsize && i < sh.sh_size / sh.sh_entsize; i++) {
                        GElf_Sym sym;
                        const char *name;

                        if (!gelf_getsym(data, (int) i, &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
                            sym.st_value == 0)
                                continue;
                        name = elf_strptr(elf, sh.sh_link, sym.st_name);
                        if (name && streq(name, function)) {
                                vaddr = sym.st_value;
                                found = true;
                                break;
                        }
                }
        }

        if (found) {
                size_t n;
                /* Virtual address → file offset through the segment holding it. */
                if (elf_getphdrnum(elf, &n) == 0)
                        for (size_t i = 0; i < n; i++) {
                                GElf_Phdr ph;
                                if (gelf_getphdr(elf, (int) i, &ph) && ph.p_type == PT_LOAD && (ph.p_flags & PF_X) &&
                                    vaddr >= ph.p_vaddr && vaddr < ph.p_vaddr + ph.p_memsz) {
                                        *ret = vaddr - ph.p_vaddr + ph.p_offset;
                                        r = 0;
                                        break;
                                }
                        }
        }
        elf_end(elf);
        return r;
}

static int attach_uprobe(AttachCtx *c) {
        _cleanup_free_ char *path = NULL;
        struct perf_event_attr attr = { .size = sizeof attr };
        bool ret = c->link->kind == LINK_URETPROBE;
        uint64_t offset = c->link->offset;
        int bit, r, pfd;

        r = probe_pmu("uprobe", &attr.type, &bit);
        if (r < 0)
                return error_info_set(c->err, EOPNOTSUPP, BUS_ERROR_UNSUPPORTED_BY_KERNEL,
                                   "This kernel has no uprobe PMU (CONFIG_UPROBES): %s", strerror(-r));
        r = resolve_target(c->link->target, &path);
        if (r < 0)
                return error_info_set(c->err, r, NULL, "Cannot find uprobe target '%s': %s", c->link->target, strerror(-r));
        if (c->link->function) {
                uint64_t fn = 0;
                r = elf_function_offset(path, c->link->function, &fn);
                if (r < 0)
                        return error_info_set(c->err, r, NULL, "No function '%s' in %s: %s", c->link->function, path,
                                           strerror(-r));
                offset += fn;
        }
        attr.config = ret ? 1ULL << bit : 0;
        attr.config1 = (uint64_t) (uintptr_t) path;
        attr.config2 = offset;
        pfd = perf_event_open_fd(&attr, c->link->pid);
        if (pfd < 0)
                return error_info_set(c->err, pfd, NULL, "Cannot probe %s in %s: %s", strna(c->link->function), path,
                                   strerror(-pfd));
        return link_perf_event(c, pfd, path);
}

static int attach_tracing(AttachCtx *c) {
        c->link_fd = bpf_link_create(c->prog_fd, 0, c->link->kind == LINK_FENTRY ? BPF_TRACE_FENTRY : BPF_TRACE_FEXIT, NULL);
        if (c->link_fd < 0)
                return error_info_set(c->err, errno, NULL, "Cannot attach %s: %m", link_kind_to_string(c->link->kind));
        return 0;
}

static const char *cgroup2_root(void) {
        return access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/unified";
}

static int attach_cgroup(AttachCtx *c) {
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int cg = -EBADF;
        const char *root = cgroup2_root();

        path = startswith(c->link->cgroup, root) ? strdup(c->link->cgroup) : strjoin(root, "/", c->link->cgroup);
        if (!path)
                return -ENOMEM;
        cg = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (cg < 0)
                return error_info_set(c->err, errno, NULL, "No cgroup %s: %m", path);
        c->link_fd = bpf_link_create(c->prog_fd, cg, (enum bpf_attach_type) cgroup_attach_type_from_string(c->link->attach_type), NULL);
        if (c->link_fd < 0)
                return error_info_set(c->err, errno, NULL, "Cannot attach to cgroup %s as %s: %m", path, c->link->attach_type);
        return 0;
}

int link_attach(const char *bpffs_root, Link *l, const LinkProgram *prog, const TcxPlacement *placement,
                ErrorInfo *err) {
        _cleanup_free_ char *pin = NULL, *links_dir = NULL;
        _cleanup_close_ int prog_fd = -EBADF;
        AttachCtx c = { .bpffs_root = bpffs_root, .program = prog, .placement = placement, .link = l, .err = err,
                        .link_fd = -EBADF };
        int r;

        *err = (ErrorInfo) {};
        prog_fd = program_open_pinned(bpffs_root, l->program_id);
        if (prog_fd < 0)
                return error_info_set(err, ENOENT, BUS_ERROR_NO_SUCH_PROGRAM, "Program %" PRIu32 " is not loaded.", l->program_id);
        c.prog_fd = prog_fd;

        switch (l->kind) {
        case LINK_XDP:        r = in_netns(l->netns, attach_xdp_in_ns, &c); break;
        case LINK_TCX:        r = in_netns(l->netns, attach_tcx_in_ns, &c); break;
        case LINK_TC:         r = in_netns(l->netns, attach_tc_in_ns, &c); break;
        case LINK_TRACEPOINT: r = attach_tracepoint(&c); break;
        case LINK_KPROBE:
        case LINK_KRETPROBE:  r = attach_kprobe(&c); break;
        case LINK_UPROBE:
        case LINK_URETPROBE:  r = attach_uprobe(&c); break;
        case LINK_FENTRY:
        case LINK_FEXIT:      r = attach_tracing(&c); break;
        case LINK_CGROUP:     r = attach_cgroup(&c); break;
        default:              r = error_info_set(err, EINVAL, NULL, "Unknown attach kind.");
        }
        if (r < 0) {
                if (err->error == 0)
                        (void) error_info_set(err, r, NULL, "Attaching failed: %s", strerror(-r));
                return err->error;
        }

        l->attached_usec = now_usec(CLOCK_REALTIME);
        if (l->kind == LINK_TC || l->kind == LINK_XDP)
                return 0; /* tc filters and libxdp's netlink attachments live on without a pin */

        links_dir = strjoin(bpffs_root, "/links");
        pin = link_pin_path(bpffs_root, l->id);
        if (!links_dir || !pin) {
                r = -ENOMEM;
                goto fail;
        }
        r = mkdir_parents(links_dir, 0700);
        if (r < 0)
                goto fail;
        if (bpf_obj_pin(c.link_fd, pin) < 0) {
                r = -errno;
                goto fail;
        }
        (void) link_kernel_id(c.link_fd, &l->kernel_link_id);
        (void) close(c.link_fd);
        return 0;

fail:
        /* Closing the only reference detaches it again. */
        (void) close(c.link_fd);
        return error_info_set(err, r, NULL, "Cannot pin the new link: %s", strerror(-r));
}

static int detach_tc_in_ns(void *userdata) {
        const Link *l = userdata;
        int ifindex = (int) if_nametoindex(l->iface);
        int r;

        if (ifindex <= 0)
                return 0; /* the interface and its filters are gone */
        LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
                    .attach_point = streq(l->direction, "ingress") ? BPF_TC_INGRESS : BPF_TC_EGRESS);
        LIBBPF_OPTS(bpf_tc_opts, opts, .handle = l->tc_handle, .priority = l->tc_priority);
        r = bpf_tc_detach(&hook, &opts);
        return r == -ENOENT ? 0 : r;
}

static int detach_xdp_in_ns(void *userdata) {
        const Link *l = userdata;
        int ifindex = (int) if_nametoindex(l->iface);

        if (ifindex <= 0 || ifindex != l->ifindex)
                return 0; /* the interface is gone, and its programs with it */
        return xdp_detach(ifindex, l->attached_program_id);
}

int link_detach(const char *bpffs_root, const Link *l) {
        _cleanup_free_ char *pin = NULL;
        int fd;

        if (l->kind == LINK_TC)
                return l->tc_handle ? in_netns(l->netns, detach_tc_in_ns, (void *) l) : 0;
        if (l->kind == LINK_XDP && l->attached_program_id)
                return in_netns(l->netns, detach_xdp_in_ns, (void *) l);
        pin = link_pin_path(bpffs_root, l->id);
        if (!pin)
                return -ENOMEM;

        /* Dropping the last reference frees a link from a workqueue, later:
         * detach it now so that the program has stopped when we return.
         * Perf-event links cannot be detached this way; closing is enough. */
        fd = bpf_obj_get(pin);
        if (fd >= 0) {
                (void) bpf_link_detach(fd);
                (void) close(fd);
        }
        if (unlink(pin) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

typedef struct TcDump {
        const Link *link;
        bool any;
} TcDump;

typedef void (*tc_bpf_filter_t)(uint32_t priority, uint32_t program_id, void *userdata);

/* The program id of a cls_bpf filter message, or 0. */
static uint32_t filter_bpf_program(struct nlmsghdr *h) {
        struct tcmsg *tc = NLMSG_DATA(h);
        int len = (int) h->nlmsg_len - (int) NLMSG_LENGTH(sizeof(*tc));
        bool is_bpf = false;
        uint32_t id = 0;

        for (struct rtattr *a = (struct rtattr *) ((char *) tc + NLMSG_ALIGN(sizeof(*tc))); RTA_OK(a, len);
             a = RTA_NEXT(a, len)) {
                if (a->rta_type == TCA_KIND)
                        is_bpf = RTA_PAYLOAD(a) >= 4 && strneq(RTA_DATA(a), "bpf", 4);
                else if (a->rta_type == TCA_OPTIONS) {
                        int olen = (int) RTA_PAYLOAD(a);
                        for (struct rtattr *o = RTA_DATA(a); RTA_OK(o, olen); o = RTA_NEXT(o, olen))
                                if (o->rta_type == TCA_BPF_ID && RTA_PAYLOAD(o) >= sizeof(uint32_t))
                                        memcpy(&id, RTA_DATA(o), sizeof id);
                }
        }
        return is_bpf ? id : 0;
}

/* Dumps the filters of one clsact direction over rtnetlink (the kernel
 * answers in priority order, which is run order); sets any when there is at
 * least one and reports each cls_bpf filter's program to on_bpf. */
static int dump_filters_full(int ifindex, uint32_t parent, bool *any, tc_bpf_filter_t on_bpf, void *userdata) {
        struct {
                struct nlmsghdr nh;
                struct tcmsg tc;
        } req = {
                .nh = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct tcmsg)), .nlmsg_type = RTM_GETTFILTER,
                        .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 1 },
                .tc = { .tcm_family = AF_UNSPEC, .tcm_ifindex = ifindex, .tcm_parent = parent },
        };
        _cleanup_close_ int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
        char buf[16384];

        if (fd < 0)
                return -errno;
        if (send(fd, &req, req.nh.nlmsg_len, 0) < 0)
                return -errno;
        for (;;) {
                ssize_t n = recv(fd, buf, sizeof buf, 0);
                if (n < 0)
                        return -errno;
                for (struct nlmsghdr *h = (struct nlmsghdr *) buf; NLMSG_OK(h, (size_t) n); h = NLMSG_NEXT(h, n)) {
                        if (h->nlmsg_type == NLMSG_DONE)
                                return 0;
                        if (h->nlmsg_type == NLMSG_ERROR) {
                                const struct nlmsgerr *e = NLMSG_DATA(h);
                                return e->error == -EINVAL || e->error == -ENOENT ? 0 : e->error;
                        }
                        if (h->nlmsg_type == RTM_NEWTFILTER) {
                                uint32_t id = on_bpf ? filter_bpf_program(h) : 0;
                                *any = true;
                                if (id > 0)
                                        on_bpf(TC_H_MAJ(((struct tcmsg *) NLMSG_DATA(h))->tcm_info) >> 16, id, userdata);
                        }
                }
        }
}

static int dump_filters(int ifindex, uint32_t parent, bool *any) {
        return dump_filters_full(ifindex, parent, any, NULL, NULL);
}

static int tc_dump_in_ns(void *userdata) {
        TcDump *d = userdata;
        int ifindex = (int) if_nametoindex(d->link->iface), r;

        if (ifindex <= 0)
                return 0;
        r = dump_filters(ifindex, TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS), &d->any);
        if (r >= 0 && !d->any)
                r = dump_filters(ifindex, TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS), &d->any);
        return r;
}

int tc_hook_has_filters(const Link *l) {
        TcDump d = { .link = l };
        int r = in_netns(l->netns, tc_dump_in_ns, &d);

        return r < 0 ? r : d.any;
}

static int tc_destroy_in_ns(void *userdata) {
        const Link *l = userdata;
        int ifindex = (int) if_nametoindex(l->iface);

        if (ifindex <= 0)
                return 0;
        LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
        return bpf_tc_hook_destroy(&hook);
}

int tc_hook_destroy(const Link *l) {
        return in_netns(l->netns, tc_destroy_in_ns, (void *) l);
}

typedef struct TcQuery {
        const Link *link;
        bool exists;
} TcQuery;

static int query_tc_in_ns(void *userdata) {
        TcQuery *q = userdata;
        const Link *l = q->link;
        int ifindex = (int) if_nametoindex(l->iface);

        if (ifindex <= 0 || ifindex != l->ifindex)
                return 0;
        LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
                    .attach_point = streq(l->direction, "ingress") ? BPF_TC_INGRESS : BPF_TC_EGRESS);
        LIBBPF_OPTS(bpf_tc_opts, opts, .handle = l->tc_handle, .priority = l->tc_priority);
        q->exists = bpf_tc_query(&hook, &opts) == 0 && opts.prog_id == l->program_id;
        return 0;
}

typedef struct CandidateQuery {
        const Link *link;
        XdpHookProgram *out;
        size_t max, n;
        int ifindex;
} CandidateQuery;

/* The kernel's info on program id and its map ids. */
static int prog_info_by_id(uint32_t id, struct bpf_prog_info *info, uint32_t **map_ids, uint32_t *n_maps) {
        _cleanup_close_ int fd = bpf_prog_get_fd_by_id(id);

        return fd < 0 ? -errno : program_info_maps(fd, info, map_ids, n_maps);
}

static bool shares_a_map(const uint32_t *a, uint32_t n_a, const uint32_t *b, uint32_t n_b) {
        if (n_a == 0 && n_b == 0)
                return true;
        for (uint32_t i = 0; i < n_a; i++)
                for (uint32_t k = 0; k < n_b; k++)
                        if (a[i] == b[k])
                                return true;
        return false;
}

static int xdp_candidates_in_ns(void *userdata) {
        CandidateQuery *q = userdata;
        XdpHookProgram entries[XDP_PROGRAMS_MAX + 2];
        _cleanup_free_ uint32_t *loaded_maps = NULL;
        struct bpf_prog_info loaded;
        uint32_t n_loaded_maps;
        int ifindex = (int) if_nametoindex(q->link->iface), r;
        size_t n;

        if (ifindex <= 0)
                return 0;
        q->ifindex = ifindex;
        r = xdp_hook_programs(ifindex, entries, ELEMENTSOF(entries), &n);
        if (r < 0)
                return r;
        r = prog_info_by_id(q->link->program_id, &loaded, &loaded_maps, &n_loaded_maps);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n && q->n < q->max; i++) {
                _cleanup_free_ uint32_t *maps = NULL;
                struct bpf_prog_info info;
                uint32_t n_maps;
                bool copy = entries[i].dispatcher_id > 0 &&
                            prog_info_by_id(entries[i].program_id, &info, &maps, &n_maps) >= 0 &&
                            streq(info.name, loaded.name) && memcmp(info.tag, loaded.tag, sizeof info.tag) == 0 &&
                            shares_a_map(maps, n_maps, loaded_maps, n_loaded_maps);
                if (entries[i].program_id == q->link->program_id || copy)
                        q->out[q->n++] = entries[i];
        }
        return 0;
}

int link_xdp_attached_candidates(const Link *l, XdpHookProgram *ret, size_t max, size_t *ret_n, int *ret_ifindex) {
        CandidateQuery q = { .link = l, .out = ret, .max = max };
        int r;

        *ret_n = 0;
        if (l->kind != LINK_XDP || !l->iface)
                return 0;
        r = in_netns(l->netns, xdp_candidates_in_ns, &q);
        if (r < 0)
                return r;
        *ret_n = q.n;
        *ret_ifindex = q.ifindex;
        return 0;
}

bool link_exists(const char *bpffs_root, const Link *l) {
        _cleanup_free_ char *pin = NULL;

        if (l->kind == LINK_TC) {
                TcQuery q = { .link = l };
                return l->tc_handle && in_netns(l->netns, query_tc_in_ns, &q) >= 0 && q.exists;
        }
        if (l->kind == LINK_XDP && l->attached_program_id) {
                uint32_t position;
                return l->ifindex > 0 && link_position(l, &position) >= 0;
        }
        pin = link_pin_path(bpffs_root, l->id);
        return pin && access(pin, F_OK) == 0;
}

/* Records. */

int link_to_json(const Link *l, json_object **ret) {
        json_object *j = json_object_new_object(), *po = json_new_strv(l->proceed_on);

        if (!j || !po) {
                json_object_put(j);
                json_object_put(po);
                return -ENOMEM;
        }
        json_object_object_add(j, "id", json_object_new_uint64(l->id));
        json_object_object_add(j, "programId", json_object_new_uint64(l->program_id));
        json_add_string_or_null(j, "kind", link_kind_to_string(l->kind));
        json_object_object_add(j, "complete", json_object_new_boolean(l->complete));
        json_add_string_or_null(j, "interface", l->iface);
        json_add_string_or_null(j, "netns", l->netns);
        json_add_string_or_null(j, "direction", l->direction);
        json_object_object_add(j, "priority", json_object_new_int(l->priority));
        json_object_object_add(j, "proceedOn", po);
        json_add_string_or_null(j, "mode", l->mode);
        json_add_string_or_null(j, "tracepoint", l->tracepoint);
        json_add_string_or_null(j, "function", l->function);
        json_object_object_add(j, "offset", json_object_new_uint64(l->offset));
        json_add_string_or_null(j, "target", l->target);
        json_object_object_add(j, "pid", json_object_new_int(l->pid));
        json_add_string_or_null(j, "cgroup", l->cgroup);
        json_add_string_or_null(j, "attachType", l->attach_type);
        json_object_object_add(j, "ifindex", json_object_new_int(l->ifindex));
        json_add_string_or_null(j, "modeUsed", l->mode_used);
        json_object_object_add(j, "kernelLinkId", json_object_new_uint64(l->kernel_link_id));
        json_object_object_add(j, "attachedProgramId", json_object_new_uint64(l->attached_program_id));
        json_object_object_add(j, "xdpDispatcher", json_object_new_boolean(l->xdp_dispatcher));
        json_object_object_add(j, "tcHandle", json_object_new_uint64(l->tc_handle));
        json_object_object_add(j, "tcPriority", json_object_new_uint64(l->tc_priority));
        json_object_object_add(j, "tcCreatedClsact", json_object_new_boolean(l->tc_created_clsact));
        json_object_object_add(j, "attachedUSec", json_object_new_uint64(l->attached_usec));
        *ret = j;
        return 0;
}

int link_from_json(json_object *j, Link **ret) {
        _cleanup_(link_freep) Link *l = calloc(1, sizeof(Link));
        _cleanup_free_ char *kind = NULL;
        json_object *v;
        int r;

        if (!l)
                return -ENOMEM;
        /* Every string field may be absent or null. */
        struct { const char *key; char **field; } strings[] = {
                { "kind", &kind },              { "interface", &l->iface },       { "netns", &l->netns },
                { "direction", &l->direction }, { "mode", &l->mode },             { "tracepoint", &l->tracepoint },
                { "function", &l->function },   { "target", &l->target },         { "cgroup", &l->cgroup },
                { "attachType", &l->attach_type }, { "modeUsed", &l->mode_used },
        };
        for (size_t i = 0; i < ELEMENTSOF(strings); i++) {
                r = json_read_string(j, strings[i].key, JSON_NULLABLE | JSON_OPTIONAL, strings[i].field);
                if (r < 0)
                        return r;
        }
        l->kind = link_kind_from_string(kind);
        l->id = (uint32_t) json_u64_or_zero(j, "id");
        l->program_id = (uint32_t) json_u64_or_zero(j, "programId");
        if (l->kind < 0 || l->id == 0 || l->program_id == 0)
                return -EBADMSG;
        l->complete = json_object_object_get_ex(j, "complete", &v) && json_object_get_boolean(v);
        l->priority = (int32_t) json_u64_or_zero(j, "priority");
        l->offset = json_u64_or_zero(j, "offset");
        l->pid = (int32_t) json_u64_or_zero(j, "pid");
        l->ifindex = (int) json_u64_or_zero(j, "ifindex");
        l->kernel_link_id = (uint32_t) json_u64_or_zero(j, "kernelLinkId");
        l->attached_program_id = (uint32_t) json_u64_or_zero(j, "attachedProgramId");
        l->xdp_dispatcher = json_object_object_get_ex(j, "xdpDispatcher", &v) && json_object_get_boolean(v);
        l->tc_handle = (uint32_t) json_u64_or_zero(j, "tcHandle");
        l->tc_priority = (uint32_t) json_u64_or_zero(j, "tcPriority");
        l->tc_created_clsact = json_object_object_get_ex(j, "tcCreatedClsact", &v) && json_object_get_boolean(v);
        l->attached_usec = json_u64_or_zero(j, "attachedUSec");
        if (json_object_object_get_ex(j, "proceedOn", &v) && json_object_is_type(v, json_type_array))
                for (size_t i = 0; i < json_object_array_length(v); i++) {
                        r = strv_extend(&l->proceed_on, json_object_get_string(json_object_array_get_idx(v, i)));
                        if (r < 0)
                                return r;
                }
        *ret = TAKE_PTR(l);
        return 0;
}

typedef struct HookQuery {
        const char *iface;
        const char *netns;
        HookEntry *entries;
        size_t n;
        ErrorInfo *err;
        int result;
} HookQuery;

static int hook_add(HookQuery *q, const char *hook, uint32_t position, uint32_t id, const char *mode) {
        if (q->n >= HOOK_ENTRIES_MAX)
                return -E2BIG;
        q->entries[q->n++] = (HookEntry) { .hook = hook, .position = position, .program_id = id, .mode = mode };
        return 0;
}

typedef struct TcCollect {
        HookQuery *q;
        const char *hook;
        uint32_t position;
        bool overflow;
} TcCollect;

static void tc_collect(uint32_t priority, uint32_t program_id, void *userdata) {
        TcCollect *c = userdata;

        if (hook_add(c->q, c->hook, c->position++, program_id, NULL) < 0)
                c->overflow = true;
}

static int hook_programs_in_ns(void *userdata) {
        HookQuery *q = userdata;
        int ifindex = (int) if_nametoindex(q->iface);
        uint32_t ids[HOOK_ENTRIES_MAX];
        int r;

        if (ifindex <= 0)
                return error_info_set(q->err, ENODEV, NULL, "No interface '%s'%s%s.", q->iface,
                                      q->netns ? " in network namespace " : "", strempty(q->netns));
        {
                XdpHookProgram xdps[XDP_PROGRAMS_MAX + 2];
                size_t n_xdp;

                r = xdp_hook_programs(ifindex, xdps, ELEMENTSOF(xdps), &n_xdp);
                if (r < 0)
                        return error_info_set(q->err, r, NULL, "Cannot read the XDP hook of %s: %m", q->iface);
                for (size_t i = 0; i < n_xdp; i++) {
                        if (q->n >= HOOK_ENTRIES_MAX)
                                return error_info_set(q->err, E2BIG, BUS_ERROR_LIMITS_EXCEEDED, "Too many programs on %s.", q->iface);
                        q->entries[q->n++] = (HookEntry) { .hook = "xdp", .position = xdps[i].position,
                                                           .program_id = xdps[i].program_id, .mode = xdps[i].mode,
                                                           .dispatcher_id = xdps[i].dispatcher_id,
                                                           .run_prio = xdps[i].run_prio };
                }
        }
        /* Per direction in the kernel's order: TCX links first, then the
         * legacy clsact filters (by priority). */
        for (int dir = 0; dir < 2; dir++) {
                TcCollect c = { .q = q, .hook = dir == 0 ? "tc-ingress" : "tc-egress" };
                uint32_t n = ELEMENTSOF(ids);
                bool any = false;

                r = tcx_query(ifindex, dir == 0, ids, &n, NULL);
                if (r < 0 && r != -EINVAL && r != -EOPNOTSUPP)  /* EINVAL: no TCX in this kernel */
                        return error_info_set(q->err, r, NULL, "Cannot query the TCX hooks of %s: %m", q->iface);
                for (uint32_t i = 0; r >= 0 && i < n; i++)
                        if (hook_add(q, dir == 0 ? "tcx-ingress" : "tcx-egress", i, ids[i], NULL) < 0)
                                return error_info_set(q->err, E2BIG, BUS_ERROR_LIMITS_EXCEEDED, "Too many programs on %s.", q->iface);

                r = dump_filters_full(ifindex, TC_H_MAKE(TC_H_CLSACT, dir == 0 ? TC_H_MIN_INGRESS : TC_H_MIN_EGRESS), &any,
                                      tc_collect, &c);
                if (r < 0)
                        return error_info_set(q->err, r, NULL, "Cannot list the tc filters of %s: %m", q->iface);
                if (c.overflow)
                        return error_info_set(q->err, E2BIG, BUS_ERROR_LIMITS_EXCEEDED, "Too many programs on %s.", q->iface);
        }
        return 0;
}

int link_hook_programs(const char *iface, const char *netns, HookEntry **ret, size_t *ret_n, ErrorInfo *err) {
        _cleanup_free_ HookEntry *entries = calloc(HOOK_ENTRIES_MAX, sizeof(HookEntry));
        HookQuery q = { .iface = iface, .netns = netns, .err = err };
        int r;

        *err = (ErrorInfo) {};
        if (!entries)
                return error_info_set(err, ENOMEM, NULL, "Out of memory.");
        if (isempty(iface) || strlen(iface) >= IF_NAMESIZE)
                return error_info_set(err, EINVAL, NULL, "'%.64s' is not an interface name.", strempty(iface));
        if (netns && (netns[0] != '/' || strlen(netns) > 4096))
                return error_info_set(err, EINVAL, NULL, "The network namespace must be an absolute path such as /run/netns/NAME.");
        q.entries = entries;
        r = in_netns(netns, hook_programs_in_ns, &q);
        if (r < 0) {
                if (err->error >= 0 || err->message[0] == '\0')
                        return error_info_set(err, r, NULL, "Cannot enter network namespace %s: %m", strna(netns));
                return r;
        }
        *ret = TAKE_PTR(entries);
        *ret_n = q.n;
        return 0;
}

typedef struct PositionQuery {
        const Link *link;
        uint32_t position;
} PositionQuery;

static int position_in_ns(void *userdata) {
        PositionQuery *q = userdata;
        uint32_t ids[HOOK_ENTRIES_MAX], n = ELEMENTSOF(ids);
        int ifindex = (int) if_nametoindex(q->link->iface), r;

        if (ifindex <= 0)
                return -ENODEV;
        if (q->link->kind == LINK_XDP)
                return xdp_position(ifindex, q->link->attached_program_id, &q->position);
        r = tcx_query(ifindex, streq_ptr(q->link->direction, "ingress"), ids, &n, NULL);
        if (r < 0)
                return r;
        for (uint32_t i = 0; i < n; i++)
                if (ids[i] == q->link->program_id) {
                        q->position = i;
                        return 0;
                }
        return -ENOENT;
}

int link_position(const Link *l, uint32_t *ret) {
        PositionQuery q = { .link = l };
        int r;

        if (l->kind == LINK_XDP && !l->attached_program_id) {
                *ret = 0;       /* a bpf_link of an older bpfhubd: alone on the hook */
                return 0;
        }
        if ((l->kind != LINK_TCX && l->kind != LINK_XDP) || !l->iface)
                return -EOPNOTSUPP;
        r = in_netns(l->netns, position_in_ns, &q);
        if (r < 0)
                return r;
        *ret = q.position;
        return 0;
}
