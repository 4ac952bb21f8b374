// SPDX-License-Identifier: LGPL-2.1-or-later OR BSD-2-Clause
/* One minimal program per program type, each counting its runs in hits[].
 * The test suite loads and attaches them one by one to learn, independently
 * of bpfhubd's probe, what this kernel really does. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "feature-probes.h"


struct {
        __uint(type, BPF_MAP_TYPE_ARRAY);
        __uint(max_entries, HIT_MAX);
        __type(key, __u32);
        __type(value, __u64);
} hits SEC(".maps");

static __always_inline void hit(__u32 idx) {
        __u64 *v = bpf_map_lookup_elem(&hits, &idx);

        if (v)
                __sync_fetch_and_add(v, 1);
}

SEC("xdp")
int probe_xdp(struct xdp_md *ctx) {
        hit(HIT_XDP);
        return XDP_PASS;
}

SEC("tc")
int probe_tc(struct __sk_buff *skb) {
        hit(HIT_TC);
        return -1; /* TC_ACT_UNSPEC / TCX_NEXT: let the packet go on */
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int probe_tracepoint(void *ctx) {
        hit(HIT_TRACEPOINT);
        return 0;
}

SEC("uprobe")
int probe_uprobe(struct pt_regs *ctx) {
        hit(HIT_UPROBE);
        return 0;
}

SEC("kprobe/do_unlinkat")
int probe_kprobe(struct pt_regs *ctx) {
        hit(HIT_KPROBE);
        return 0;
}

SEC("fentry/do_unlinkat")
int BPF_PROG(probe_fentry, int dfd, struct filename *name) {
        hit(HIT_FENTRY);
        return 0;
}

/* Replaces probe_xdp; the test sets the target program before loading. */
SEC("freplace/probe_xdp")
int probe_freplace(struct xdp_md *ctx) {
        hit(HIT_FREPLACE);
        return XDP_PASS;
}

SEC("lsm/file_open")
int BPF_PROG(probe_lsm, struct file *file) {
        hit(HIT_LSM);
        return 0;
}

SEC("cgroup_skb/egress")
int probe_cgroup_skb(struct __sk_buff *skb) {
        hit(HIT_CGROUP_SKB);
        return 1;
}

SEC("cgroup/sock_create")
int probe_cgroup_sock(struct bpf_sock *sk) {
        hit(HIT_CGROUP_SOCK);
        return 1;
}

char LICENSE[] SEC("license") = "GPL";
