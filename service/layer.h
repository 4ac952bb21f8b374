/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>

#include "errors.h"
#include "macro.h"

/* The eBPF object inside one image layer, taken out safely: only from a
 * tar holding exactly one regular file (or a bumblebee raw layer), never
 * by path on disk, with the decompressed size capped. Core code: no bus,
 * no GLib. */

/* The layer media types a bytecode image may use (the same strings as
 * oci.h's OCI_MEDIA_LAYER_* / DOCKER_MEDIA_LAYER_* / BUMBLEBEE_MEDIA_PROGRAM). */
#define LAYER_MEDIA_OCI_TAR_GZIP    "application/vnd.oci.image.layer.v1.tar+gzip"
#define LAYER_MEDIA_OCI_TAR         "application/vnd.oci.image.layer.v1.tar"
#define LAYER_MEDIA_DOCKER_TAR_GZIP "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define LAYER_MEDIA_BUMBLEBEE       "application/ebpf.oci.image.program.v1+binary"

/* The extracted object. */
#define LAYER_ELF_SIZE_MAX (64ULL << 20)

/* What a tar stream may hold besides the object's own bytes (headers,
 * directories, padding): the whole decompressed stream is capped at
 * max_size + this, so a bomb of tiny entries is stopped too. */
#define LAYER_TAR_OVERHEAD_MAX (1ULL << 20)

/* Reads the layer at layer_fd (a regular file, position irrelevant) of the
 * given media type and writes the ELF it carries to out_fd (truncating it),
 * then checks it with elf_check_bpf_object(). On success out_fd holds the
 * object and is positioned at 0. Returns 0 or a negative errno with *error
 * filled in; a failure leaves out_fd truncated to 0.
 *   -EMEDIUMTYPE  unknown media type (InvalidBytecode)
 *   -EBADMSG      not the archive the media type says, a hostile or
 *                 malformed entry, no or two files, not an eBPF object
 *                 for this host (InvalidBytecode)
 *   -E2BIG        the object or the stream is over the cap (LimitsExceeded) */
int layer_extract_elf(int layer_fd, const char *media_type, int out_fd, uint64_t max_size, ErrorInfo *error);

/* Checks that the bytes at fd (read with pread() from offset 0) are a
 * 64-bit relocatable (ET_REL) eBPF (EM_BPF) ELF object in the host's byte
 * order whose section header table lies inside the file. Returns 0, or
 * -EBADMSG with BUS_ERROR_INVALID_BYTECODE (a read error: its errno). */
int elf_check_bpf_object(int fd, ErrorInfo *error);
