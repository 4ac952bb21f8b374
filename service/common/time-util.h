/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>
#include <time.h>

typedef uint64_t usec_t;

#define USEC_INFINITY ((usec_t) UINT64_MAX)
#define USEC_PER_MSEC ((usec_t) 1000ULL)
#define USEC_PER_SEC  ((usec_t) 1000000ULL)
#define USEC_PER_MINUTE (60 * USEC_PER_SEC)
#define USEC_PER_HOUR (60 * USEC_PER_MINUTE)
#define USEC_PER_DAY (24 * USEC_PER_HOUR)

usec_t now_usec(clockid_t clock);

/* Parses "30s", "1min 30s", "500ms", "2h", a bare number of seconds, or
 * "infinity". Returns -EINVAL on syntax errors, -ERANGE on overflow. */
int parse_timespan(const char *s, usec_t *ret);

/* Formats as the shortest exact "1min 30s" form; "infinity" for USEC_INFINITY. */
char *format_timespan(char *buf, size_t size, usec_t t);
#define FORMAT_TIMESPAN_MAX 64
