/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "macro.h"

#define DIGEST_STRING_MAX sizeof("sha256:") + 64

/* Incremental sha256 (GnuTLS), formatted as an OCI digest. */
typedef struct Sha256 Sha256;

int sha256_new(Sha256 **ret);
void sha256_update(Sha256 *h, const void *data, size_t size);
/* Writes "sha256:<hex>" into out (DIGEST_STRING_MAX bytes) and frees h. */
void sha256_finish(Sha256 *h, char out[static DIGEST_STRING_MAX]);
Sha256 *sha256_free(Sha256 *h);
DEFINE_TRIVIAL_CLEANUP_FUNC(Sha256 *, sha256_free);

int sha256_buffer(const void *data, size_t size, char out[static DIGEST_STRING_MAX]);
/* Hashes fd from offset 0 to EOF; *ret_size gets the byte count. */
int sha256_fd(int fd, char out[static DIGEST_STRING_MAX], uint64_t *ret_size);
