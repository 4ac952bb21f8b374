/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>

#include "errors.h"

int error_info_set(ErrorInfo *e, int error, const char *bus_error, const char *fmt, ...) {
        va_list ap;

        e->error = -abs(error);
        e->bus_error = bus_error;
        errno = abs(error);
        va_start(ap, fmt);
        (void) vsnprintf(e->message, sizeof e->message, fmt, ap);
        va_end(ap);
        return e->error;
}
