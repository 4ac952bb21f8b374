/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "errors.h"
#include "http.h"
#include "image-ref.h"
#include "image-store.h"
#include "registry-auth.h"

/* One pull of a registry reference into the image store, as a state
 * machine on the event loop: manifest (and the host's entry of an index),
 * config, layer; auth challenges answered with credentials from the call
 * or the auth files; transient failures retried with backoff. Every blob
 * is size-capped and digest-checked and the layer's bytecode is extracted
 * and checked before anything enters the store; the index.json entry is
 * written last. */

typedef enum PullPolicy {
        PULL_ALWAYS,
        PULL_IF_NOT_PRESENT,
        PULL_NEVER,
        _PULL_POLICY_MAX,
        _PULL_POLICY_INVALID = -EINVAL,
} PullPolicy;

const char *pull_policy_to_string(PullPolicy p) _const_;
/* "Always", "IfNotPresent", "Never" (any case). */
PullPolicy pull_policy_from_string(const char *s) _pure_;

typedef struct PullSettings {
        const char *config_dir;         /* certs.d/ and auth.json */
        const char *runtime_dir;        /* CA bundles are assembled in <runtime_dir>/ca */
        char * const *insecure;         /* host[:port] reached over plain HTTP */
} PullSettings;

typedef struct Pull Pull;
/* error is NULL on success. The callback may free the pull. */
typedef void (*pull_done_t)(Pull *p, const ErrorInfo *error, void *userdata);
typedef void (*pull_progress_t)(Pull *p, uint64_t done, uint64_t total, void *userdata);

/* credentials may be NULL (then the auth files are asked on a challenge). */
int pull_new(HttpClient *http, ImageStore *store, const PullSettings *settings, const ImageRef *ref,
             const RegistryCredentials *credentials, Pull **ret);
Pull *pull_free(Pull *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(Pull *, pull_free);

int pull_start(Pull *p, pull_done_t done, pull_progress_t progress, void *userdata);
/* Stops the pull; done is called with ECANCELED from the event loop. */
void pull_cancel(Pull *p);

/* After success: the entry written to index.json. */
const StoredImage *pull_result(const Pull *p);
/* Digests this pull may still commit (prune must keep them). */
char **pull_pending_digests(const Pull *p);
