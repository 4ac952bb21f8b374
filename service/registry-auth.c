/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <gnutls/gnutls.h>
#include <json-c/json.h>
#include <strings.h>

#include "registry-auth.h"

void registry_credentials_done(RegistryCredentials *c) {
        if (c->password)
                explicit_bzero(c->password, strlen(c->password));
        c->username = mfree(c->username);
        c->password = mfree(c->password);
}

static int split_user_password(const char *decoded, size_t size, RegistryCredentials *ret) {
        const char *colon = memchr(decoded, ':', size);

        if (!colon || colon == decoded || memchr(decoded, '\0', size))
                return -EINVAL;
        ret->username = strndup(decoded, (size_t) (colon - decoded));
        ret->password = strndup(colon + 1, size - (size_t) (colon - decoded) - 1);
        if (!ret->username || !ret->password) {
                registry_credentials_done(ret);
                return -ENOMEM;
        }
        return 0;
}

static int base64_decode(const char *b64, char **ret, size_t *ret_size) {
        gnutls_datum_t in = { .data = (unsigned char *) b64, .size = (unsigned) strlen(b64) }, out = {};

        if (gnutls_base64_decode2(&in, &out) < 0)
                return -EINVAL;
        *ret = (char *) out.data;
        *ret_size = out.size;
        return 0;
}

int registry_credentials_from_base64(const char *b64, RegistryCredentials *ret, ErrorInfo *error) {
        char *decoded = NULL;
        size_t size = 0;
        int r;

        *ret = (RegistryCredentials) {};
        if (strlen(b64) > REGISTRY_CREDENTIAL_SIZE_MAX)
                return error_info_set(error, EINVAL, NULL, "The registry credentials are longer than %d bytes.",
                                      REGISTRY_CREDENTIAL_SIZE_MAX);
        r = base64_decode(b64, &decoded, &size);
        if (r >= 0) {
                r = split_user_password(decoded, size, ret);
                explicit_bzero(decoded, size);
        }
        gnutls_free(decoded);
        if (r == -ENOMEM)
                return error_info_set(error, ENOMEM, NULL, "Out of memory.");
        if (r < 0)
                return error_info_set(error, EINVAL, NULL,
                                      "The registry credentials are not base64 of '<username>:<password>'.");
        return 0;
}

/* Auth file keys: "host", "https://host", "host/v1/", "host/org/repo". */
static bool key_matches(const char *key, const char *host, const char *repository, size_t *ret_specificity) {
        const char *k = key, *rest;
        size_t host_len = strlen(host);

        if (strncasecmp(k, "https://", 8) == 0)
                k += 8;
        else if (strncasecmp(k, "http://", 7) == 0)
                k += 7;
        if (streq(host, "registry-1.docker.io") || streq(host, "docker.io")) {
                /* docker writes index.docker.io for Docker Hub. */
                if (startswith(k, "index.docker.io") || startswith(k, "registry-1.docker.io") || startswith(k, "docker.io")) {
                        *ret_specificity = 0;
                        return true;
                }
        }
        rest = strncasecmp(k, host, host_len) == 0 ? k + host_len : NULL;
        if (!rest)
                return false;
        if (*rest == '\0' || streq(rest, "/") || streq(rest, "/v1/") || streq(rest, "/v2/")) {
                *ret_specificity = 0;
                return true;
        }
        /* A namespaced entry applies to the repository and what lies below it. */
        if (*rest == '/' && repository) {
                size_t n = strlen(rest + 1);
                if (strneq(repository, rest + 1, n) && (repository[n] == '\0' || repository[n] == '/')) {
                        *ret_specificity = n;
                        return true;
                }
        }
        return false;
}

int registry_auth_file_lookup(const char *text, size_t size, const char *host, const char *repository,
                              RegistryCredentials *ret) {
        json_object *j, *auths, *best = NULL;
        json_tokener *tok;
        size_t best_specificity = 0;
        int r = -ENOENT;

        *ret = (RegistryCredentials) {};
        if (size > REGISTRY_AUTH_FILE_SIZE_MAX)
                return -E2BIG;
        tok = json_tokener_new_ex(8);
        if (!tok)
                return -ENOMEM;
        j = json_tokener_parse_ex(tok, text, (int) size);
        json_tokener_free(tok);
        if (!j || !json_object_is_type(j, json_type_object)) {
                json_object_put(j);
                return -EBADMSG;
        }
        if (!json_object_object_get_ex(j, "auths", &auths) || !json_object_is_type(auths, json_type_object)) {
                json_object_put(j);
                return -ENOENT;
        }
        json_object_object_foreach(auths, key, entry) {
                size_t specificity;
                if (!json_object_is_type(entry, json_type_object) || !key_matches(key, host, repository, &specificity))
                        continue;
                if (!best || specificity > best_specificity) {
                        best = entry;
                        best_specificity = specificity;
                }
        }
        if (best) {
                json_object *auth;
                if (json_object_object_get_ex(best, "auth", &auth) && json_object_is_type(auth, json_type_string)) {
                        ErrorInfo ignored;
                        r = registry_credentials_from_base64(json_object_get_string(auth), ret, &ignored);
                        if (r < 0)
                                r = -EBADMSG;
                }
        }
        json_object_put(j);
        return r;
}

char **registry_auth_file_paths(const char *config_dir) {
        _cleanup_strv_free_ char **l = NULL;
        const char *env = getenv("REGISTRY_AUTH_FILE");

        if (strv_push(&l, strjoin(config_dir, "/auth.json")) < 0)
                return NULL;
        if (!isempty(env) && strv_extend(&l, env) < 0)
                return NULL;
        if (strv_extend(&l, "/run/containers/0/auth.json") < 0 || strv_extend(&l, "/root/.docker/config.json") < 0)
                return NULL;
        return TAKE_PTR(l);
}

void auth_challenge_done(AuthChallenge *c) {
        c->realm = mfree(c->realm);
        c->service = mfree(c->service);
        c->scope = mfree(c->scope);
}

static bool is_token_char(char c) {
        return c != '\0' && (isalnum((unsigned char) c) || strchr("!#$%&'*+-.^_`|~", c));
}

/* Reads token or quoted-string at *p into a new string. */
static int read_value(const char **p, char **ret) {
        const char *s = *p;
        size_t n = 0;
        char *v;

        if (*s == '"') {
                s++;
                v = malloc(strlen(s) + 1);
                if (!v)
                        return -ENOMEM;
                for (; *s && *s != '"'; s++) {
                        if (*s == '\\' && s[1])
                                s++;
                        v[n++] = *s;
                }
                if (*s != '"') {
                        free(v);
                        return -EINVAL;
                }
                s++;
                v[n] = '\0';
        } else {
                while (is_token_char(s[n]) || s[n] == '/' || s[n] == ':' || s[n] == '=')
                        n++;
                v = strndup(s, n);
                if (!v)
                        return -ENOMEM;
                s += n;
        }
        *p = s;
        *ret = v;
        return 0;
}

int auth_challenge_parse(const char *header, AuthChallenge *ret) {
        _cleanup_(auth_challenge_done) AuthChallenge c = { .scheme = _AUTH_SCHEME_INVALID };
        const char *p = header;
        int r;

        while (*p == ' ' || *p == '\t')
                p++;
        if (strncasecmp(p, "Bearer", 6) == 0 && (p[6] == ' ' || p[6] == '\0'))
                c.scheme = AUTH_SCHEME_BEARER, p += 6;
        else if (strncasecmp(p, "Basic", 5) == 0 && (p[5] == ' ' || p[5] == '\0'))
                c.scheme = AUTH_SCHEME_BASIC, p += 5;
        else
                return -EOPNOTSUPP;

        for (;;) {
                _cleanup_free_ char *name = NULL, *value = NULL;
                size_t n = 0;

                while (*p == ' ' || *p == '\t' || *p == ',')
                        p++;
                if (*p == '\0')
                        break;
                while (is_token_char(p[n]))
                        n++;
                if (n == 0 || p[n] != '=')
                        return -EINVAL;
                name = strndup(p, n);
                if (!name)
                        return -ENOMEM;
                p += n + 1;
                r = read_value(&p, &value);
                if (r < 0)
                        return r;
                if (strcasecmp(name, "realm") == 0 && !c.realm)
                        c.realm = TAKE_PTR(value);
                else if (strcasecmp(name, "service") == 0 && !c.service)
                        c.service = TAKE_PTR(value);
                else if (strcasecmp(name, "scope") == 0 && !c.scope)
                        c.scope = TAKE_PTR(value);
                if (*p != '\0' && *p != ',' && *p != ' ' && *p != '\t')
                        return -EINVAL;
        }
        if (c.scheme == AUTH_SCHEME_BEARER && isempty(c.realm))
                return -EINVAL;
        *ret = c;
        c = (AuthChallenge) {};
        return 0;
}
