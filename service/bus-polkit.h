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
typedef struct InspectGrant InspectGrant;

/* How long an org.bpfhub.inspect verdict of polkit also opens the
 * per-entity objects (properties, introspection, GetManagedObjects) to
 * that bus name: property reads cannot wait for polkit themselves. */
#define INSPECT_GRANT_USEC (5 * USEC_PER_MINUTE)
#define INSPECT_GRANTS_MAX 256

/* Checks in flight; the daemon does not exit while any is. */
typedef struct PolkitRegistry {
        PolkitQuery *queries;
        unsigned n_queries;
        InspectGrant *grants;
        unsigned n_grants;
        unsigned emitting;      /* > 0 while the daemon itself builds a signal */
} PolkitRegistry;

void polkit_registry_done(PolkitRegistry *reg);

/* Must be called before changing any state. Returns 1 when allowed (root
 * always is, without asking polkit), 0 when a check was started (the
 * handler returns 1 without replying and is called again with the verdict),
 * or -EACCES with error set (denied; also when polkitd is unavailable).
 * details: NULL-terminated key, value pairs for polkit rules. Honours the
 * message's allow-interactive-authorization flag. */
/* May the sender of the message being processed on bus read program, link,
 * image and transfer objects? Root may; others after polkit allowed them
 * org.bpfhub.inspect (through ListPrograms, GetProgram, ListImages,
 * GetImage or Describe) within INSPECT_GRANT_USEC. Signals the daemon emits
 * are built whoever's call caused them: their delivery is the bus policy's
 * business. */
bool bus_may_inspect(PolkitRegistry *reg, sd_bus *bus);

/* Brackets the daemon's own signal emission (see bus_may_inspect()). */
static inline void bus_emit_begin(PolkitRegistry *reg) {
        reg->emitting++;
}
static inline void bus_emit_end(PolkitRegistry *reg) {
        reg->emitting--;
}

/* Evaluates a sd_bus_emit_*() call as the daemon's own emission. */
#define BUS_EMIT(reg, call)                             \
        ({                                              \
                bus_emit_begin(reg);                    \
                int _e_ = (call);                       \
                bus_emit_end(reg);                      \
                _e_;                                    \
        })

int bus_verify_polkit_async(PolkitRegistry *reg, sd_bus_message *call, const char *action,
                            const char *const *details, sd_bus_error *error);
