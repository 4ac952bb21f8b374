/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "errors.h"
#include "macro.h"

/* OCI and docker manifests, indexes and image configs, parsed with caps:
 * pure functions over bytes, no I/O. */

#define OCI_MEDIA_MANIFEST      "application/vnd.oci.image.manifest.v1+json"
#define OCI_MEDIA_INDEX         "application/vnd.oci.image.index.v1+json"
#define OCI_MEDIA_CONFIG        "application/vnd.oci.image.config.v1+json"
#define DOCKER_MEDIA_MANIFEST   "application/vnd.docker.distribution.manifest.v2+json"
#define DOCKER_MEDIA_INDEX      "application/vnd.docker.distribution.manifest.list.v2+json"
#define DOCKER_MEDIA_CONFIG     "application/vnd.docker.container.image.v1+json"
#define BUMBLEBEE_MEDIA_CONFIG  "application/ebpf.oci.image.config.v1+json"
#define BUMBLEBEE_MEDIA_PROGRAM "application/ebpf.oci.image.program.v1+binary"
#define OCI_MEDIA_LAYER_TAR_GZIP    "application/vnd.oci.image.layer.v1.tar+gzip"
#define OCI_MEDIA_LAYER_TAR         "application/vnd.oci.image.layer.v1.tar"
#define DOCKER_MEDIA_LAYER_TAR_GZIP "application/vnd.docker.image.rootfs.diff.tar.gzip"

/* The Accept header of a manifest request: every type we can read. */
#define OCI_MANIFEST_ACCEPT \
        OCI_MEDIA_MANIFEST ", " OCI_MEDIA_INDEX ", " DOCKER_MEDIA_MANIFEST ", " DOCKER_MEDIA_INDEX

#define OCI_MANIFEST_SIZE_MAX (4ULL << 20)      /* the distribution spec's recommended manifest cap */
#define OCI_CONFIG_SIZE_MAX   (4ULL << 20)
#define OCI_LAYER_SIZE_MAX    (64ULL << 20)
#define OCI_INDEX_ENTRIES_MAX 256
#define OCI_LAYERS_MAX        64
#define IMAGE_LABELS_MAX      256
#define IMAGE_LABEL_SIZE_MAX  (64U << 10)
#define IMAGE_PROGRAMS_MAX    256

#define OCI_ANNOTATION_REF_NAME "org.opencontainers.image.ref.name"

typedef struct OciDescriptor {
        char *media_type;
        char *digest;
        uint64_t size;
        char *architecture;     /* index entries: platform */
        char *os;
        char *variant;
} OciDescriptor;

void oci_descriptor_done(OciDescriptor *d);

typedef enum OciManifestKind {
        OCI_KIND_MANIFEST,
        OCI_KIND_INDEX,
} OciManifestKind;

typedef struct OciManifest {
        OciManifestKind kind;
        char *media_type;
        OciDescriptor config;           /* manifests */
        OciDescriptor *layers;
        size_t n_layers;
        OciDescriptor *manifests;       /* indexes */
        size_t n_manifests;
} OciManifest;

OciManifest *oci_manifest_free(OciManifest *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(OciManifest *, oci_manifest_free);

bool oci_media_type_is_index(const char *t) _pure_;
bool oci_media_type_is_manifest(const char *t) _pure_;

/* Parses a manifest or index. content_type (the HTTP header, may be NULL)
 * is used when the document has no mediaType field. */
int oci_manifest_parse(const void *data, size_t size, const char *content_type, OciManifest **ret, ErrorInfo *error);

/* The entry of an index for linux/<arch>; ENOENT names the platforms it has. */
int oci_index_select(const OciManifest *index, const char *arch, const OciDescriptor **ret, ErrorInfo *error);

/* The host's architecture as Go's GOARCH spells it ("amd64", "arm64", ...). */
const char *oci_host_arch(void);

typedef enum ImageFormat {
        IMAGE_FORMAT_BPFMAN,            /* one tar(+gzip) layer, labels in the config */
        IMAGE_FORMAT_BUMBLEBEE,         /* raw ELF layer, ebpf.oci.image media types */
        _IMAGE_FORMAT_MAX,
        _IMAGE_FORMAT_INVALID = -EINVAL,
} ImageFormat;

const char *image_format_to_string(ImageFormat f) _const_;

/* Which format a (non-index) manifest is in, and the layer with the bytecode. */
int oci_manifest_bytecode_layer(const OciManifest *m, ImageFormat *ret_format, const OciDescriptor **ret_layer,
                                ErrorInfo *error);

typedef struct ImageConfig {
        char *architecture;
        char *os;
        char **labels;          /* key, value, key, value, ... */
        char **programs;        /* function name, type, ... (io.ebpf.programs or the legacy labels) */
        char **maps;            /* map name, type, ... (io.ebpf.maps) */
        bool legacy_labels;     /* programs came from io.ebpf.bpf_function_name/program_type */
} ImageConfig;

ImageConfig *image_config_free(ImageConfig *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(ImageConfig *, image_config_free);

/* Parses an image config (OCI, docker, or bumblebee's empty object). Bad
 * bpfman labels are InvalidBytecode with the label's name. */
int image_config_parse(const void *data, size_t size, ImageConfig **ret, ErrorInfo *error);

/* Checks that every requested function is listed by the image's labels (when
 * it has any); the error lists what the image offers. */
int image_config_check_programs(const ImageConfig *c, char * const *names, ErrorInfo *error);
