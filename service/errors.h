/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* org.bpfhub.Error.* names: the core reports them, the bus layer sends them. */
#define BUS_ERROR_NO_SUCH_PROGRAM      "org.bpfhub.Error.NoSuchProgram"
#define BUS_ERROR_NO_SUCH_LINK         "org.bpfhub.Error.NoSuchLink"
#define BUS_ERROR_NO_SUCH_IMAGE        "org.bpfhub.Error.NoSuchImage"
#define BUS_ERROR_INVALID_BYTECODE     "org.bpfhub.Error.InvalidBytecode"
#define BUS_ERROR_INTERFACE_BUSY       "org.bpfhub.Error.InterfaceBusy"
#define BUS_ERROR_UNSUPPORTED_BY_KERNEL "org.bpfhub.Error.UnsupportedByKernel"
#define BUS_ERROR_REGISTRY_UNAUTHORIZED "org.bpfhub.Error.RegistryUnauthorized"
#define BUS_ERROR_DIGEST_MISMATCH      "org.bpfhub.Error.DigestMismatch"
#define BUS_ERROR_SIGNATURE_REQUIRED   "org.bpfhub.Error.SignatureRequired"
#define BUS_ERROR_LIMITS_EXCEEDED      "org.bpfhub.Error.LimitsExceeded"
#define BUS_ERROR_SHUTTING_DOWN        "org.bpfhub.Error.ShuttingDown"
#define BUS_ERROR_IMAGE_IN_USE         "org.bpfhub.Error.ImageInUse"
#define BUS_ERROR_REGISTRY_UNREACHABLE "org.bpfhub.Error.RegistryUnreachable"
#define BUS_ERROR_CANCELLED            "org.bpfhub.Error.Cancelled"

#include "macro.h"

/* A failure to report to a caller: the errno, a sentence that says exactly
 * what went wrong, and the org.bpfhub.Error.* name to send (NULL: derive a
 * standard one from the errno). */
typedef struct ErrorInfo {
        int error;
        char message[512];
        const char *bus_error;
} ErrorInfo;

/* Fills in *e and returns -abs(error); %m in fmt is that error. */
int error_info_set(ErrorInfo *e, int error, const char *bus_error, const char *fmt, ...) _printf_(4, 5);
