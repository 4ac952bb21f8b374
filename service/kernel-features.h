/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-c/json.h>

#include "macro.h"

typedef enum FeatureKind {
        FEATURE_PROGRAM_TYPE,
        FEATURE_ATTACH,
        FEATURE_KERNEL,
        _FEATURE_KIND_MAX,
} FeatureKind;

typedef struct KernelFeature {
        const char *name;       /* static: "xdp", "tcx", ... */
        FeatureKind kind;
        bool supported;
        char *detail;           /* why not, or how; never NULL after probing */
} KernelFeature;

typedef struct KernelFeatures {
        char *release;          /* uname -r */
        KernelFeature *items;
        size_t n_items;
} KernelFeatures;

const char *feature_kind_to_string(FeatureKind k) _const_;

/* Probes the running kernel once. Needs CAP_BPF (or root) for meaningful
 * answers: without it every program type reads as unsupported, and the
 * detail says so. */
int kernel_features_probe(KernelFeatures *ret);
void kernel_features_done(KernelFeatures *kf);

const KernelFeature *kernel_features_find(const KernelFeatures *kf, const char *name);

/* {"release": ..., "features": [{"name","kind","supported","detail"}, ...]} */
int kernel_features_to_json(const KernelFeatures *kf, json_object **ret);
