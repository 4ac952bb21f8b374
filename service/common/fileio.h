/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <sys/types.h>

#include "macro.h"

/* Writes "data" to dir/name through a temporary file in the same directory,
 * fsync and rename, so readers and a crash see the old or the new contents,
 * never a mix. */
int write_file_atomic(const char *dir, const char *name, const void *data, size_t size);

/* Reads a whole regular file of at most max_size bytes, NUL-terminated. */
int read_full_file(const char *path, size_t max_size, char **ret, size_t *ret_size);

/* mkdir -p with the given mode; existing directories are fine. */
int mkdir_parents(const char *path, mode_t mode);

/* rm -r that never crosses into another file system. */
int rm_rf(const char *path);
