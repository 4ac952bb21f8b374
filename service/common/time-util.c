/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <inttypes.h>

#include "macro.h"
#include "time-util.h"

static const struct {
        const char *suffix;
        usec_t usec;
} units[] = {
        /* Longer suffixes first so that "ms" is not read as "m" + junk. */
        { "minutes", USEC_PER_MINUTE }, { "minute", USEC_PER_MINUTE },
        { "seconds", USEC_PER_SEC },    { "second", USEC_PER_SEC },
        { "hours", USEC_PER_HOUR },     { "hour", USEC_PER_HOUR },
        { "days", USEC_PER_DAY },       { "day", USEC_PER_DAY },
        { "msec", USEC_PER_MSEC },      { "usec", 1 },
        { "min", USEC_PER_MINUTE },     { "sec", USEC_PER_SEC },
        { "ms", USEC_PER_MSEC },        { "us", 1 },
        { "h", USEC_PER_HOUR },         { "d", USEC_PER_DAY },
        { "m", USEC_PER_MINUTE },       { "s", USEC_PER_SEC },
};

usec_t now_usec(clockid_t clock) {
        struct timespec ts;

        (void) clock_gettime(clock, &ts);
        return (usec_t) ts.tv_sec * USEC_PER_SEC + (usec_t) ts.tv_nsec / 1000;
}

int parse_timespan(const char *s, usec_t *ret) {
        usec_t total = 0;
        bool any = false;

        if (!s)
                return -EINVAL;
        while (isspace((unsigned char) *s))
                s++;
        if (streq(s, "infinity")) {
                *ret = USEC_INFINITY;
                return 0;
        }

        while (*s) {
                uint64_t value = 0, frac = 0, frac_div = 1;
                usec_t unit = USEC_PER_SEC;
                bool digits = false;

                while (isspace((unsigned char) *s))
                        s++;
                if (!*s)
                        break;

                for (; isdigit((unsigned char) *s); s++) {
                        if (value > (UINT64_MAX - 9) / 10)
                                return -ERANGE;
                        value = value * 10 + (uint64_t) (*s - '0');
                        digits = true;
                }
                if (*s == '.') {
                        s++;
                        for (; isdigit((unsigned char) *s); s++) {
                                if (frac_div < UINT64_C(1000000000)) {
                                        frac = frac * 10 + (uint64_t) (*s - '0');
                                        frac_div *= 10;
                                }
                                digits = true;
                        }
                }
                if (!digits)
                        return -EINVAL;

                while (isspace((unsigned char) *s))
                        s++;
                for (size_t i = 0; i < ELEMENTSOF(units); i++) {
                        const char *e = startswith(s, units[i].suffix);
                        if (e && !isalpha((unsigned char) *e)) {
                                unit = units[i].usec;
                                s = e;
                                break;
                        }
                }
                if (isalpha((unsigned char) *s))
                        return -EINVAL;

                if (value > (USEC_INFINITY - 1) / unit)
                        return -ERANGE;
                usec_t add = value * unit + frac * unit / frac_div;
                if (total > USEC_INFINITY - 1 - add)
                        return -ERANGE;
                total += add;
                any = true;
        }

        if (!any)
                return -EINVAL;
        *ret = total;
        return 0;
}

char *format_timespan(char *buf, size_t size, usec_t t) {
        static const struct { const char *suffix; usec_t usec; } parts[] = {
                { "d", USEC_PER_DAY }, { "h", USEC_PER_HOUR }, { "min", USEC_PER_MINUTE },
                { "s", USEC_PER_SEC }, { "ms", USEC_PER_MSEC }, { "us", 1 },
        };
        size_t n = 0;

        if (t == USEC_INFINITY) {
                (void) snprintf(buf, size, "infinity");
                return buf;
        }
        if (t == 0) {
                (void) snprintf(buf, size, "0");
                return buf;
        }
        buf[0] = '\0';
        for (size_t i = 0; i < ELEMENTSOF(parts) && t > 0; i++) {
                usec_t k = t / parts[i].usec;
                if (k == 0)
                        continue;
                t -= k * parts[i].usec;
                int w = snprintf(buf + n, size - n, "%s%" PRIu64 "%s", n > 0 ? " " : "",
                                 k, parts[i].suffix);
                if (w < 0 || (size_t) w >= size - n)
                        break;
                n += (size_t) w;
        }
        return buf;
}
