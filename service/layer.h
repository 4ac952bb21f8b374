/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "errors.h"
#include "macro.h"

/* The eBPF object inside one image layer, taken out safely: only from a
 * tar holding exactly one regular file (or a bumblebee raw layer), never
 * by path on disk, with the decompressed size capped. */

#define LAYER_ELF_SIZE_MAX (64ULL << 20)

/* Writes the ELF carried by the layer at layer_fd (of the given media type)
 * to out_fd, which is truncated first and left empty on failure. */
int layer_extract_elf(int layer_fd, const char *media_type, int out_fd, uint64_t max_size, ErrorInfo *error);

/* Checks that fd holds a relocatable eBPF ELF object in the host's byte order. */
int elf_check_bpf_object(int fd, ErrorInfo *error);
