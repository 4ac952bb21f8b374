/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-c/json.h>

#include "digest.h"
#include "errors.h"
#include "macro.h"

/* The image store: an OCI image layout (oci-layout, index.json,
 * blobs/sha256/<hex>) that skopeo and umoci can read. index.json has one
 * entry per pulled reference, annotated with the full reference. Blobs are
 * written to ingest/ and renamed into place once their digest is verified;
 * index.json is replaced atomically and durably. An flock on .lock
 * serialises writers. */

#define IMAGE_STORE_ANNOTATION_PULLED "org.bpfhub.image.pulled"          /* microseconds, CLOCK_REALTIME */
#define IMAGE_STORE_ANNOTATION_INDEX  "org.bpfhub.image.index-digest"    /* when the reference named an index */

typedef struct ImageStore {
        char *root;
} ImageStore;

typedef struct StoredImage {
        char *reference;        /* full reference: domain/path:tag[@digest] or oci:<dir>:<tag> */
        char *digest;           /* the platform manifest */
        char *media_type;
        uint64_t size;          /* the manifest's size */
        char *index_digest;     /* NULL unless the reference named an index */
        uint64_t pulled_usec;
} StoredImage;

void stored_image_done(StoredImage *i);
void stored_image_array_free(StoredImage *a, size_t n);

/* Creates the layout when missing and empties ingest/ (left over by a crash). */
int image_store_open(const char *root, ImageStore **ret);
ImageStore *image_store_free(ImageStore *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(ImageStore *, image_store_free);

char *image_store_blob_path(const ImageStore *s, const char *digest);
/* True when the blob is present with the given size (any size when size is UINT64_MAX). */
bool image_store_has_blob(const ImageStore *s, const char *digest, uint64_t size);

/* A new empty file in ingest/ for a blob being downloaded. */
int image_store_ingest_new(const ImageStore *s, int *ret_fd, char **ret_path);
/* Verifies the file's digest and size, then renames it into blobs/;
 * on a mismatch unlinks it and reports DigestMismatch. */
int image_store_ingest_commit(const ImageStore *s, int fd, const char *path, const char *digest, uint64_t size,
                              ErrorInfo *error);
/* Renames a download whose digest the caller has checked into blobs/. */
int image_store_ingest_publish(const ImageStore *s, int fd, const char *path, const char *digest, ErrorInfo *error);
/* Stores bytes already in memory (manifests, configs) after checking them. */
int image_store_put_blob(const ImageStore *s, const void *data, size_t size, const char *digest, ErrorInfo *error);

/* Reads a blob of at most max bytes and re-checks its digest. */
int image_store_read_blob(const ImageStore *s, const char *digest, size_t max, char **ret, size_t *ret_size,
                          ErrorInfo *error);
/* Opens a blob read-only after re-checking its digest. */
int image_store_open_blob(const ImageStore *s, const char *digest, int *ret_fd, ErrorInfo *error);

int image_store_list(const ImageStore *s, StoredImage **ret, size_t *ret_n);
/* Finds an image by full reference or by manifest/index digest: -ENOENT when absent. */
int image_store_find(const ImageStore *s, const char *reference_or_digest, StoredImage *ret);
/* Adds the entry, replacing one with the same reference. */
int image_store_add(const ImageStore *s, const StoredImage *image);
/* Drops the entry; -ENOENT when there is none. Blobs stay until prune. */
int image_store_remove(const ImageStore *s, const char *reference);
/* Removes blobs that no index entry reaches (and that keep_digests does not
 * name: blobs of pulls still running). */
int image_store_prune_blobs(const ImageStore *s, char * const *keep_digests, uint64_t *ret_freed, unsigned *ret_removed);
/* Total size of the blobs the entry reaches (manifest, config, layers). */
int image_store_image_size(const ImageStore *s, const StoredImage *image, uint64_t *ret);
