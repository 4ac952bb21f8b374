/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include "kernel-features.h"
#include "log.h"

/* Debian 12's uapi headers predate TCX (Linux 6.6). */
#ifndef BPF_TCX_INGRESS
#define BPF_TCX_INGRESS 46
#endif

typedef struct ProbeResult {
        bool supported;
        char *detail;
} ProbeResult;

typedef int (*probe_fn)(const KernelFeatures *so_far, int arg, ProbeResult *ret);

static const char *const kind_names[_FEATURE_KIND_MAX] = {
        [FEATURE_PROGRAM_TYPE] = "program-type",
        [FEATURE_ATTACH] = "attach",
        [FEATURE_KERNEL] = "kernel",
};

const char *feature_kind_to_string(FeatureKind k) {
        return k >= 0 && k < _FEATURE_KIND_MAX ? kind_names[k] : NULL;
}

static int result(ProbeResult *ret, bool supported, const char *fmt, ...) _printf_(3, 4);
static int result(ProbeResult *ret, bool supported, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&ret->detail, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        ret->supported = supported;
        return 0;
}

static bool pmu_exists(const char *pmu) {
        char path[128];

        (void) snprintf(path, sizeof path, "/sys/bus/event_source/devices/%s/type", pmu);
        return access(path, F_OK) == 0;
}

static bool feature_supported(const KernelFeatures *kf, const char *name) {
        const KernelFeature *f = kernel_features_find(kf, name);
        return f && f->supported;
}

static int probe_prog_type(const KernelFeatures *kf, int type, ProbeResult *ret) {
        int r = libbpf_probe_bpf_prog_type((enum bpf_prog_type) type, NULL);

        if (r > 0)
                return result(ret, true, "loads");
        if (r == 0)
                return result(ret, false, "the kernel refuses to load this program type");
        errno = -r;
        return result(ret, false, "probing failed: %m");
}

/* kprobes and uprobes are both BPF_PROG_TYPE_KPROBE programs; what differs
 * is whether the kernel can attach them, through the "kprobe" or "uprobe" PMU. */
static int probe_probe_pmu(const KernelFeatures *kf, const char *pmu, const char *config, ProbeResult *ret) {
        int r = probe_prog_type(kf, BPF_PROG_TYPE_KPROBE, ret);

        if (r < 0 || !ret->supported)
                return r;
        ret->detail = mfree(ret->detail);
        if (pmu_exists(pmu))
                return result(ret, true, "loads; attaches through the %s PMU", pmu);
        return result(ret, false,
                      "the program type loads, but the kernel has no %s support "
                      "(no %s PMU in /sys/bus/event_source/devices; %s is off)", pmu, pmu, config);
}

static int probe_kprobe(const KernelFeatures *kf, int type, ProbeResult *ret) {
        return probe_probe_pmu(kf, "kprobe", "CONFIG_KPROBES", ret);
}

static int probe_uprobe(const KernelFeatures *kf, int type, ProbeResult *ret) {
        return probe_probe_pmu(kf, "uprobe", "CONFIG_UPROBES", ret);
}

static int probe_tracing(const KernelFeatures *kf, int type, ProbeResult *ret) {
        int r = probe_prog_type(kf, type, ret);

        if (r < 0 || ret->supported)
                return r;
        ret->detail = mfree(ret->detail);
        if (access("/sys/kernel/btf/vmlinux", F_OK) < 0)
                return result(ret, false, "the kernel has no BTF (/sys/kernel/btf/vmlinux), which this program type needs");
        return result(ret, false,
                      "the kernel refuses to load this program type although it has BTF "
                      "(kernel lockdown, or BPF trampolines not built in)");
}

/* A minimal "return 0" program of the given type, or -errno. */
static int load_trivial_prog(enum bpf_prog_type type) {
        const struct bpf_insn insns[] = {
                { .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
                { .code = BPF_JMP | BPF_EXIT },
        };
        int fd = bpf_prog_load(type, "bpfhub_probe", "GPL", insns, ELEMENTSOF(insns), NULL);
        return fd < 0 ? -errno : fd;
}

/* TCX is probed without touching any interface: link creation with ifindex 0
 * fails with ENODEV on kernels that know the TCX attach types (the device
 * lookup comes first) and with EINVAL on kernels that do not. */
static int probe_tcx(const KernelFeatures *kf, int arg, ProbeResult *ret) {
        _cleanup_close_ int prog_fd = -EBADF;
        int fd;

        if (!feature_supported(kf, "sched_cls"))
                return result(ret, false, "needs the sched_cls program type");

        prog_fd = load_trivial_prog(BPF_PROG_TYPE_SCHED_CLS);
        if (prog_fd < 0) {
                errno = -prog_fd;
                return result(ret, false, "probing failed: could not load a sched_cls program: %m");
        }

        fd = bpf_link_create(prog_fd, 0, (enum bpf_attach_type) BPF_TCX_INGRESS, NULL);
        if (fd >= 0) {
                /* Cannot happen for ifindex 0, but never leak a link. */
                (void) close(fd);
                return result(ret, true, "BPF_LINK_CREATE with BPF_TCX_INGRESS/EGRESS (Linux 6.6+)");
        }
        if (errno == ENODEV)
                return result(ret, true, "BPF_LINK_CREATE with BPF_TCX_INGRESS/EGRESS (Linux 6.6+)");
        return result(ret, false,
                      "the kernel does not know the TCX attach types (Linux 6.6+); "
                      "tc programs use legacy clsact filters");
}

static int probe_xdp_multiprog(const KernelFeatures *kf, int arg, ProbeResult *ret) {
        if (!feature_supported(kf, "xdp"))
                return result(ret, false, "needs the xdp program type");
        if (!feature_supported(kf, "ext"))
                return result(ret, false,
                              "libxdp's dispatcher needs freplace (the ext program type), which this "
                              "kernel refuses; one XDP program per interface");
        return result(ret, true, "libxdp dispatcher with freplace extensions");
}

static int probe_btf(const KernelFeatures *kf, int arg, ProbeResult *ret) {
        if (access("/sys/kernel/btf/vmlinux", F_OK) == 0)
                return result(ret, true, "/sys/kernel/btf/vmlinux");
        return result(ret, false, "no /sys/kernel/btf/vmlinux (CONFIG_DEBUG_INFO_BTF is off)");
}

static int probe_bpf_link(const KernelFeatures *kf, int arg, ProbeResult *ret) {
        /* BPF links came with Linux 5.7 for cgroups and 5.9 for XDP; the
         * BPF_LINK_CREATE command rejects a bad fd with EBADF where it exists. */
        int fd = bpf_link_create(-1, -1, BPF_CGROUP_INET_INGRESS, NULL);
        if (fd >= 0)
                (void) close(fd);
        if (fd < 0 && errno == EBADF)
                return result(ret, true, "BPF_LINK_CREATE");
        return result(ret, false, "the kernel has no BPF_LINK_CREATE command");
}

static const struct {
        const char *name;
        FeatureKind kind;
        probe_fn probe;
        int arg;
} feature_table[] = {
        /* Order matters: attach probes look at program types probed before. */
        { "btf",              FEATURE_KERNEL,       probe_btf,           0 },
        { "bpf_link",         FEATURE_KERNEL,       probe_bpf_link,      0 },
        { "socket_filter",    FEATURE_PROGRAM_TYPE, probe_prog_type,     BPF_PROG_TYPE_SOCKET_FILTER },
        { "xdp",              FEATURE_PROGRAM_TYPE, probe_prog_type,     BPF_PROG_TYPE_XDP },
        { "sched_cls",        FEATURE_PROGRAM_TYPE, probe_prog_type,     BPF_PROG_TYPE_SCHED_CLS },
        { "sched_act",        FEATURE_PROGRAM_TYPE, probe_prog_type,     BPF_PROG_TYPE_SCHED_ACT },
        { "tracepoint",       FEATURE_PROGRAM_TYPE, probe_prog_type,     BPF_PROG_TYPE_TRACEPOINT },
        { "raw_tracepoint",   FEATURE_PROGRAM_TYPE, probe_prog_type,     BPF_PROG_TYPE_RAW_TRACEPOINT },
        { "kprobe",           FEATURE_PROGRAM_TYPE, probe_kprobe,        0 },
        { "uprobe",           FEATURE_PROGRAM_TYPE, probe_uprobe,        0 },
        { "perf_event",       FEATURE_PROGRAM_TYPE, probe_prog_type,     BPF_PROG_TYPE_PERF_EVENT },
        { "tracing",          FEATURE_PROGRAM_TYPE, probe_tracing,       BPF_PROG_TYPE_TRACING },
        { "ext",              FEATURE_PROGRAM_TYPE, probe_tracing,       BPF_PROG_TYPE_EXT },
        { "lsm",              FEATURE_PROGRAM_TYPE, probe_tracing,       BPF_PROG_TYPE_LSM },
        { "cgroup_skb",       FEATURE_PROGRAM_TYPE, probe_prog_type,     BPF_PROG_TYPE_CGROUP_SKB },
        { "cgroup_sock",      FEATURE_PROGRAM_TYPE, probe_prog_type,     BPF_PROG_TYPE_CGROUP_SOCK },
        { "cgroup_sock_addr", FEATURE_PROGRAM_TYPE, probe_prog_type,     BPF_PROG_TYPE_CGROUP_SOCK_ADDR },
        { "cgroup_sockopt",   FEATURE_PROGRAM_TYPE, probe_prog_type,     BPF_PROG_TYPE_CGROUP_SOCKOPT },
        { "cgroup_sysctl",    FEATURE_PROGRAM_TYPE, probe_prog_type,     BPF_PROG_TYPE_CGROUP_SYSCTL },
        { "cgroup_device",    FEATURE_PROGRAM_TYPE, probe_prog_type,     BPF_PROG_TYPE_CGROUP_DEVICE },
        { "sk_lookup",        FEATURE_PROGRAM_TYPE, probe_prog_type,     BPF_PROG_TYPE_SK_LOOKUP },
        { "tcx",              FEATURE_ATTACH,       probe_tcx,           0 },
        { "xdp_multiprog",    FEATURE_ATTACH,       probe_xdp_multiprog, 0 },
};

static int silent_print(enum libbpf_print_level level, const char *fmt, va_list ap) {
        return 0;
}

int kernel_features_probe(KernelFeatures *ret) {
        _cleanup_(kernel_features_done) KernelFeatures kf = {};
        libbpf_print_fn_t old_print;
        struct utsname u;
        int r = 0;

        if (uname(&u) < 0)
                return -errno;
        kf.release = strdup(u.release);
        kf.items = calloc(ELEMENTSOF(feature_table), sizeof(KernelFeature));
        if (!kf.release || !kf.items)
                return -ENOMEM;

        /* A refused probe makes libbpf print verifier noise; keep it quiet. */
        old_print = libbpf_set_print(silent_print);
        for (size_t i = 0; i < ELEMENTSOF(feature_table); i++) {
                ProbeResult pr = {};

                r = feature_table[i].probe(&kf, feature_table[i].arg, &pr);
                if (r < 0)
                        break;
                kf.items[kf.n_items++] = (KernelFeature) {
                        .name = feature_table[i].name,
                        .kind = feature_table[i].kind,
                        .supported = pr.supported,
                        .detail = pr.detail,
                };
        }
        (void) libbpf_set_print(old_print);
        if (r < 0)
                return r;

        *ret = kf;
        kf = (KernelFeatures) {};
        return 0;
}

void kernel_features_done(KernelFeatures *kf) {
        for (size_t i = 0; i < kf->n_items; i++)
                free(kf->items[i].detail);
        kf->items = mfree(kf->items);
        kf->n_items = 0;
        kf->release = mfree(kf->release);
}

const KernelFeature *kernel_features_find(const KernelFeatures *kf, const char *name) {
        for (size_t i = 0; i < kf->n_items; i++)
                if (streq(kf->items[i].name, name))
                        return &kf->items[i];
        return NULL;
}

int kernel_features_to_json(const KernelFeatures *kf, json_object **ret) {
        json_object *root, *arr;

        root = json_object_new_object();
        arr = json_object_new_array();
        if (!root || !arr) {
                json_object_put(root);
                json_object_put(arr);
                return -ENOMEM;
        }
        json_object_object_add(root, "release", json_object_new_string(strempty(kf->release)));
        json_object_object_add(root, "features", arr);
        for (size_t i = 0; i < kf->n_items; i++) {
                const KernelFeature *f = &kf->items[i];
                json_object *o = json_object_new_object();
                if (!o) {
                        json_object_put(root);
                        return -ENOMEM;
                }
                json_object_object_add(o, "name", json_object_new_string(f->name));
                json_object_object_add(o, "kind", json_object_new_string(feature_kind_to_string(f->kind)));
                json_object_object_add(o, "supported", json_object_new_boolean(f->supported));
                json_object_object_add(o, "detail", json_object_new_string(strempty(f->detail)));
                json_object_array_add(arr, o);
        }
        *ret = root;
        return 0;
}
