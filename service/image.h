/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-c/json.h>

#include "errors.h"
#include "image-store.h"
#include "oci.h"

/* A stored image as bpfhub understands it: its manifest, config, format and
 * bytecode layer, read back from the store (digests re-checked). */
typedef struct ImageInfo {
        StoredImage stored;
        ImageFormat format;
        ImageConfig *config;
        char *layer_digest;
        char *layer_media_type;
        uint64_t layer_size;
        uint64_t total_size;
        char **platforms;       /* "os/arch" of every entry of the index the reference named, if any */
} ImageInfo;

ImageInfo *image_info_free(ImageInfo *i);
DEFINE_TRIVIAL_CLEANUP_FUNC(ImageInfo *, image_info_free);

/* Reads the image's manifest and config from the store. */
int image_info_load(const ImageStore *store, const StoredImage *stored, ImageInfo **ret, ErrorInfo *error);

/* Extracts the bytecode of a layer blob into a new memfd and checks it is
 * an eBPF object for this host. */
int image_layer_bytecode(int layer_fd, const char *media_type, int *ret_memfd, ErrorInfo *error);
/* The same for a stored image's layer. */
int image_open_bytecode(const ImageStore *store, const ImageInfo *info, int *ret_memfd, ErrorInfo *error);

/* reference, digest, mediaType, format, size, architecture, os, pulledAtUSec,
 * labels {}, programs {}, maps {}, usedBy [ids] */
int image_info_to_json(const ImageInfo *info, const uint32_t *used_by, size_t n_used_by, json_object **ret);

/* Copies the image tagged "tag" of the OCI layout at dir into the store
 * (blobs verified, bytecode checked), under the reference oci:<dir>:<tag>. */
int image_import_oci_layout(const ImageStore *store, const char *dir, const char *tag, StoredImage *ret,
                            ErrorInfo *error);
