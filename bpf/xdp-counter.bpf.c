// SPDX-License-Identifier: LGPL-2.1-or-later OR BSD-2-Clause
/* Example: counts the packets and bytes an interface receives, per CPU,
 * and lets them pass. Load it with
 *   bpfhubctl load file --path /usr/lib/bpfhub/xdp-counter.bpf.o --name xdp_stats xdp --iface eth0 --priority 100
 * and read the map "xdp_stats_map" (one struct per CPU; add them up). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct datarec {
        __u64 rx_packets;
        __u64 rx_bytes;
};

struct {
        __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
        __uint(max_entries, 1);
        __type(key, __u32);
        __type(value, struct datarec);
} xdp_stats_map SEC(".maps");

SEC("xdp")
int xdp_stats(struct xdp_md *ctx) {
        void *data_end = (void *) (long) ctx->data_end;
        void *data = (void *) (long) ctx->data;
        __u32 key = 0;
        struct datarec *rec = bpf_map_lookup_elem(&xdp_stats_map, &key);

        if (!rec)
                return XDP_ABORTED;
        /* Per-CPU values need no atomic operations. */
        rec->rx_packets++;
        rec->rx_bytes += data_end - data;
        return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
