/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "errors.h"
#include "macro.h"

/* Registry credentials and challenges: pure parsing, no network. */

#define REGISTRY_AUTH_FILE_SIZE_MAX (1U << 20)
#define REGISTRY_CREDENTIAL_SIZE_MAX 4096

typedef struct RegistryCredentials {
        char *username;
        char *password;
} RegistryCredentials;

void registry_credentials_done(RegistryCredentials *c);

/* Decodes base64("user:password") as docker and podman store it. */
int registry_credentials_from_base64(const char *b64, RegistryCredentials *ret, ErrorInfo *error);

/* Looks the registry host (and repository, for namespaced entries such as
 * "quay.io/org") up in one auth file's text ({"auths": {...}}): -ENOENT when
 * the file has no entry for it. */
int registry_auth_file_lookup(const char *text, size_t size, const char *host, const char *repository,
                              RegistryCredentials *ret);

/* The files searched, in order: <config_dir>/auth.json, $REGISTRY_AUTH_FILE,
 * /run/containers/0/auth.json, /root/.docker/config.json. NULL-terminated. */
char **registry_auth_file_paths(const char *config_dir);

typedef enum AuthScheme {
        AUTH_SCHEME_BASIC,
        AUTH_SCHEME_BEARER,
        _AUTH_SCHEME_INVALID = -EINVAL,
} AuthScheme;

typedef struct AuthChallenge {
        AuthScheme scheme;
        char *realm;
        char *service;
        char *scope;
} AuthChallenge;

void auth_challenge_done(AuthChallenge *c);

/* Parses a WWW-Authenticate value: Basic realm="..." or
 * Bearer realm="...",service="...",scope="..." (RFC 7235 auth-params). */
int auth_challenge_parse(const char *header, AuthChallenge *ret);
