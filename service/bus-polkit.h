/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

#include "macro.h"
#include "time-util.h"

/* polkit action ids; they must equal polkit/org.bpfhub.policy.in (a lint
 * test compares them). */
#define POLKIT_ACTION_INSPECT        "org.bpfhub.inspect"
#define POLKIT_ACTION_LOAD_PROGRAMS  "org.bpfhub.load-programs"
#define POLKIT_ACTION_UNLOAD_PROGRAMS "org.bpfhub.unload-programs"
#define POLKIT_ACTION_PULL_IMAGES    "org.bpfhub.pull-images"
#define POLKIT_ACTION_MANAGE_IMAGES  "org.bpfhub.manage-images"

typedef struct PolkitQuery PolkitQuery;

/* Checks in flight; the daemon does not exit while any is. */
typedef struct PolkitRegistry {
        PolkitQuery *queries;
        unsigned n_queries;
} PolkitRegistry;

void polkit_registry_done(PolkitRegistry *reg);

/* Must be called before changing any state. Returns 1 when allowed (root
 * always is, without asking polkit), 0 when a check was started (the
 * handler returns 1 without replying and is called again with the verdict),
 * or -EACCES with error set (denied; also when polkitd is unavailable).
 * details: NULL-terminated key, value pairs for polkit rules. Honours the
 * message's allow-interactive-authorization flag. */
int bus_verify_polkit_async(PolkitRegistry *reg, sd_bus_message *call, const char *action,
                            const char *const *details, sd_bus_error *error);
