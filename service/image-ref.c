/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>

#include "image-ref.h"

ImageRef *image_ref_free(ImageRef *r) {
        if (!r)
                return NULL;
        free(r->domain);
        free(r->path);
        free(r->tag);
        free(r->digest);
        free(r);
        return NULL;
}

bool digest_is_valid(const char *s) {
        const char *hex = s ? startswith(s, "sha256:") : NULL;

        if (!hex || strlen(hex) != 64)
                return false;
        for (const char *p = hex; *p; p++)
                if (!isdigit((unsigned char) *p) && !(*p >= 'a' && *p <= 'f'))
                        return false;
        return true;
}

static bool is_lower_alnum(char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)* */
static bool path_component_is_valid(const char *s, size_t n) {
        size_t i = 0;

        if (n == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
                return false;
        while (i < n) {
                if (is_lower_alnum(s[i])) {
                        i++;
                        continue;
                }
                size_t start = i;
                if (s[i] == '.')
                        i++;
                else if (s[i] == '_')
                        i += (i + 1 < n && s[i + 1] == '_') ? 2 : 1;
                else if (s[i] == '-')
                        while (i < n && s[i] == '-')
                                i++;
                else
                        return false;
                /* A separator is followed by an alphanumeric, never another separator. */
                if (i >= n || !is_lower_alnum(s[i]) || i == start)
                        return false;
        }
        return true;
}

static bool path_is_valid(const char *path) {
        const char *p = path;

        for (;;) {
                const char *slash = strchr(p, '/');
                size_t n = slash ? (size_t) (slash - p) : strlen(p);
                if (!path_component_is_valid(p, n))
                        return false;
                if (!slash)
                        return true;
                p = slash + 1;
        }
}

/* host components [A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])? joined by '.', then an optional :port */
static bool domain_is_valid(const char *domain) {
        const char *colon = strrchr(domain, ':');
        size_t host_len = colon ? (size_t) (colon - domain) : strlen(domain);

        if (host_len == 0)
                return false;
        if (colon) {
                const char *port = colon + 1;
                if (*port == '\0' || strlen(port) > 5)
                        return false;
                for (const char *q = port; *q; q++)
                        if (!isdigit((unsigned char) *q))
                                return false;
                if (atoi(port) < 1 || atoi(port) > 65535)
                        return false;
        }
        bool component_start = true;
        for (size_t i = 0; i < host_len; i++) {
                char c = domain[i];
                if (c == '.') {
                        if (component_start || domain[i - 1] == '-')
                                return false;
                        component_start = true;
                        continue;
                }
                if (!isalnum((unsigned char) c) && c != '-')
                        return false;
                if (component_start && c == '-')
                        return false;
                component_start = false;
        }
        return !component_start && domain[host_len - 1] != '-';
}

/* [A-Za-z0-9_][A-Za-z0-9_.-]{0,127} */
static bool tag_is_valid(const char *tag) {
        size_t n = strlen(tag);

        if (n == 0 || n > IMAGE_TAG_LENGTH_MAX)
                return false;
        if (!isalnum((unsigned char) tag[0]) && tag[0] != '_')
                return false;
        for (size_t i = 1; i < n; i++)
                if (!isalnum((unsigned char) tag[i]) && !strchr("_.-", tag[i]))
                        return false;
        return true;
}

static bool looks_like_domain(const char *component, size_t n) {
        return memchr(component, '.', n) || memchr(component, ':', n) ||
               (n == 9 && strneq(component, "localhost", 9));
}

int image_ref_parse(const char *s, ImageRef **ret, ErrorInfo *error) {
        _cleanup_(image_ref_freep) ImageRef *r = NULL;
        _cleanup_free_ char *copy = NULL;
        char *name, *at, *colon, *slash;

        assert(s);
        assert(ret);

        if (isempty(s))
                return error_info_set(error, EINVAL, NULL, "The image reference is empty.");
        if (strlen(s) > IMAGE_REF_LENGTH_MAX)
                return error_info_set(error, EINVAL, NULL, "The image reference is %zu bytes long; at most %d are allowed.",
                                      strlen(s), IMAGE_REF_LENGTH_MAX);
        for (const char *p = s; *p; p++)
                if ((unsigned char) *p <= ' ' || (unsigned char) *p >= 0x7f)
                        return error_info_set(error, EINVAL, NULL,
                                              "The image reference contains a space, control or non-ASCII character.");
        if (strstr(s, "://"))
                return error_info_set(error, EINVAL, NULL,
                                      "'%s' is a URL; an image reference has no scheme (registry.example.com/repo:tag).", s);

        r = calloc(1, sizeof(*r));
        copy = strdup(s);
        if (!r || !copy)
                return error_info_set(error, ENOMEM, NULL, "Out of memory.");
        name = copy;

        at = strchr(name, '@');
        if (at) {
                *at = '\0';
                if (!digest_is_valid(at + 1))
                        return error_info_set(error, EINVAL, NULL,
                                              "'%s' is not a valid digest: expected sha256: followed by 64 lower-case hex digits.",
                                              at + 1);
                r->digest = strdup(at + 1);
                if (!r->digest)
                        return error_info_set(error, ENOMEM, NULL, "Out of memory.");
        }

        slash = strrchr(name, '/');
        colon = strrchr(name, ':');
        if (colon && (!slash || colon > slash)) {
                *colon = '\0';
                if (!tag_is_valid(colon + 1))
                        return error_info_set(error, EINVAL, NULL,
                                              "'%s' is not a valid tag: letters, digits, '_', '.' and '-', at most %d, not starting with '.' or '-'.",
                                              colon + 1, IMAGE_TAG_LENGTH_MAX);
                r->tag = strdup(colon + 1);
                if (!r->tag)
                        return error_info_set(error, ENOMEM, NULL, "Out of memory.");
        }

        slash = strchr(name, '/');
        if (slash && looks_like_domain(name, (size_t) (slash - name))) {
                *slash = '\0';
                if (!domain_is_valid(name))
                        return error_info_set(error, EINVAL, NULL, "'%s' is not a valid registry host[:port].", name);
                r->domain = strdup(name);
                r->path = strdup(slash + 1);
        } else {
                r->domain = strdup(IMAGE_DEFAULT_DOMAIN);
                r->path = slash ? strdup(name) : strjoin("library/", name);
        }
        if (!r->domain || !r->path)
                return error_info_set(error, ENOMEM, NULL, "Out of memory.");

        if (!path_is_valid(r->path))
                return error_info_set(error, EINVAL, NULL,
                                      "'%s' is not a valid repository name: lower-case letters and digits in '/'-separated components, joined by '.', '_', '__' or '-'.",
                                      r->path);
        if (strlen(r->domain) + 1 + strlen(r->path) > IMAGE_NAME_LENGTH_MAX)
                return error_info_set(error, EINVAL, NULL, "The repository name is longer than %d characters.",
                                      IMAGE_NAME_LENGTH_MAX);

        if (!r->tag && !r->digest) {
                r->tag = strdup(IMAGE_DEFAULT_TAG);
                if (!r->tag)
                        return error_info_set(error, ENOMEM, NULL, "Out of memory.");
        }

        *ret = TAKE_PTR(r);
        return 0;
}

char *image_ref_repository(const ImageRef *r) {
        return strjoin(r->domain, "/", r->path);
}

char *image_ref_to_string(const ImageRef *r) {
        return strjoin(r->domain, "/", r->path,
                       r->tag ? ":" : "", strempty(r->tag),
                       r->digest ? "@" : "", strempty(r->digest));
}

const char *image_ref_manifest_reference(const ImageRef *r) {
        return r->digest ?: r->tag;
}

const char *image_ref_api_host(const ImageRef *r) {
        return streq(r->domain, IMAGE_DEFAULT_DOMAIN) ? "registry-1.docker.io" : r->domain;
}

ImageSourceKind image_source_kind(const char *source) {
        if (source[0] == '/')
                return IMAGE_SOURCE_FILE;
        if (startswith(source, "oci:"))
                return IMAGE_SOURCE_OCI_LAYOUT;
        return IMAGE_SOURCE_REGISTRY;
}

int oci_layout_source_parse(const char *source, char **ret_dir, char **ret_tag, ErrorInfo *error) {
        const char *rest = startswith(source, "oci:");
        _cleanup_free_ char *dir = NULL, *tag = NULL;
        const char *colon;

        assert(rest);

        if (rest[0] != '/')
                return error_info_set(error, EINVAL, NULL,
                                      "'%s': an OCI layout source is oci:<absolute directory>[:tag].", source);
        if (strlen(rest) > 4096)
                return error_info_set(error, EINVAL, NULL, "The OCI layout path is longer than 4096 bytes.");

        colon = strchr(rest, ':');
        dir = colon ? strndup(rest, (size_t) (colon - rest)) : strdup(rest);
        tag = strdup(colon ? colon + 1 : IMAGE_DEFAULT_TAG);
        if (!dir || !tag)
                return error_info_set(error, ENOMEM, NULL, "Out of memory.");
        if (isempty(tag) || strlen(tag) > IMAGE_NAME_LENGTH_MAX || strpbrk(tag, " \t\n/@"))
                return error_info_set(error, EINVAL, NULL, "'%s' is not a valid tag for an OCI layout.", tag);

        *ret_dir = TAKE_PTR(dir);
        *ret_tag = TAKE_PTR(tag);
        return 0;
}
