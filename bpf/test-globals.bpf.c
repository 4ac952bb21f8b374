// SPDX-License-Identifier: LGPL-2.1-or-later OR BSD-2-Clause
/* For the tests of globals and map sharing: what the program returns and
 * what it records come from globals set at load time. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

const volatile __u32 verdict = XDP_PASS;
const volatile __u64 magic = 0;

struct {
        __uint(type, BPF_MAP_TYPE_ARRAY);
        __uint(max_entries, 2);
        __type(key, __u32);
        __type(value, __u64);
} seen SEC(".maps");

SEC("xdp")
int globals_xdp(struct xdp_md *ctx) {
        __u32 k0 = 0, k1 = 1;
        __u64 m = magic, *runs;

        bpf_map_update_elem(&seen, &k0, &m, BPF_ANY);
        runs = bpf_map_lookup_elem(&seen, &k1);
        if (runs)
                __sync_fetch_and_add(runs, 1);
        return verdict;
}

SEC("tc")
int globals_tc(struct __sk_buff *skb) {
        __u32 k1 = 1;
        __u64 *runs = bpf_map_lookup_elem(&seen, &k1);

        if (runs)
                __sync_fetch_and_add(runs, 1);
        return -1;
}

/* Mark chain: each program appends its index to skb->mark as a decimal
 * digit and stores the result in "chain", which all copies share (loaded
 * with a map owner). After one packet, "chain" spells the run order. */
const volatile __u32 chain_index = 0;

struct {
        __uint(type, BPF_MAP_TYPE_ARRAY);
        __uint(max_entries, 1);
        __type(key, __u32);
        __type(value, __u64);
} chain SEC(".maps");

SEC("tc")
int chain_tc(struct __sk_buff *skb) {
        __u32 k = 0;
        __u64 *v = bpf_map_lookup_elem(&chain, &k);

        skb->mark = skb->mark * 10 + chain_index;
        if (v)
                *v = skb->mark;
        return -1; /* TCX_NEXT */
}

char LICENSE[] SEC("license") = "GPL";
