/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "errors.h"
#include "macro.h"

/* Registry references as docker and podman spell them:
 *   [domain[:port]/]path[:tag][@sha256:hex]
 * A first component with a '.' or ':' or "localhost" is a domain; otherwise
 * the image is on docker.io (and a one-component path gets "library/"). */

#define IMAGE_REF_LENGTH_MAX 1024
#define IMAGE_NAME_LENGTH_MAX 255       /* domain + '/' + path, as the reference grammar caps it */
#define IMAGE_TAG_LENGTH_MAX 128
#define IMAGE_DEFAULT_DOMAIN "docker.io"
#define IMAGE_DEFAULT_TAG "latest"

typedef struct ImageRef {
        char *domain;           /* "quay.io", "127.0.0.1:5000", "docker.io" */
        char *path;             /* "bpfman-bytecode/xdp_pass" */
        char *tag;              /* NULL when only a digest was given */
        char *digest;           /* "sha256:<64 hex>", or NULL */
} ImageRef;

ImageRef *image_ref_free(ImageRef *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(ImageRef *, image_ref_free);

/* Parses a reference; a reference with neither tag nor digest gets "latest".
 * Errors are -EINVAL with InvalidArgs and a message that names the bad part. */
int image_ref_parse(const char *s, ImageRef **ret, ErrorInfo *error);

/* "domain/path:tag", "domain/path@digest" or "domain/path:tag@digest". */
char *image_ref_to_string(const ImageRef *r);
/* "domain/path", the repository. */
char *image_ref_repository(const ImageRef *r);
/* What to put after /manifests/: the digest when there is one, else the tag. */
const char *image_ref_manifest_reference(const ImageRef *r);
/* The host to connect to: docker.io's API lives at registry-1.docker.io. */
const char *image_ref_api_host(const ImageRef *r);

/* "sha256:" followed by exactly 64 lower-case hex digits. */
bool digest_is_valid(const char *s) _pure_;

/* A source given to Load/PullImage: an absolute file path, "oci:<dir>[:tag]"
 * or a registry reference. */
typedef enum ImageSourceKind {
        IMAGE_SOURCE_FILE,
        IMAGE_SOURCE_OCI_LAYOUT,
        IMAGE_SOURCE_REGISTRY,
} ImageSourceKind;

ImageSourceKind image_source_kind(const char *source) _pure_;
/* Splits "oci:<dir>[:tag]": dir must be absolute; the tag defaults to "latest". */
int oci_layout_source_parse(const char *source, char **ret_dir, char **ret_tag, ErrorInfo *error);
