/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <sys/types.h>

#include "macro.h"

/* Writes "data" to dir/name through a temporary file in the same directory
 * and a rename, so readers and a crashed writer leave the old or the new
 * contents, never a mix. Not durable across a machine crash (no fsync):
 * meant for runtime state that lives no longer than the running system. */
int write_file_atomic(const char *dir, const char *name, const void *data, size_t size);

/* Reads a whole regular file of at most max_size bytes, NUL-terminated. */
int read_full_file(const char *path, size_t max_size, char **ret, size_t *ret_size);

/* mkdir -p with the given mode; existing directories are fine. */
int mkdir_parents(const char *path, mode_t mode);

/* rm -r that never crosses into another file system. */
int rm_rf(const char *path);
