/* SPDX-License-Identifier: LGPL-2.1-or-later OR BSD-2-Clause */
#pragma once

/* Slots of the "hits" array map in feature-probes.bpf.c, shared with the
 * tests that read it. */
enum {
        HIT_XDP,
        HIT_TC,
        HIT_TRACEPOINT,
        HIT_UPROBE,
        HIT_KPROBE,
        HIT_FENTRY,
        HIT_FREPLACE,
        HIT_LSM,
        HIT_CGROUP_SKB,
        HIT_CGROUP_SOCK,
        HIT_MAX,
};
