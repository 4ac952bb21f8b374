/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>

#include "log.h"

static const char *log_ident = "bpfhub";
static int log_max_level = LOG_INFO;
static bool log_to_journal = false;

/* systemd sets $JOURNAL_STREAM to "<dev>:<inode>" of the stream it connected
 * to stderr. Only when they match is stderr really the journal: a child that
 * inherited the variable but has its stderr redirected is not. */
static bool stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}

void log_setup(const char *ident, LogTarget target) {
        const char *e;

        if (ident)
                log_ident = ident;
        log_to_journal = target == LOG_TARGET_JOURNAL ||
                         (target == LOG_TARGET_AUTO && stderr_is_journal());

        e = getenv("BPFHUB_LOG_LEVEL");
        if (e) {
                int l = log_level_from_string(e);
                if (l >= 0)
                        log_max_level = l;
        }
}

void log_set_max_level(int level) {
        log_max_level = level;
}

int log_get_max_level(void) {
        return log_max_level;
}

bool log_target_is_journal(void) {
        return log_to_journal;
}

int log_level_from_string(const char *s) {
        static const char *const names[] = {
                [LOG_EMERG] = "emerg", [LOG_ALERT] = "alert", [LOG_CRIT] = "crit",
                [LOG_ERR] = "err",     [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
                [LOG_INFO] = "info",   [LOG_DEBUG] = "debug",
        };

        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (streq(s, names[i]))
                        return (int) i;
        if (streq(s, "error"))
                return LOG_ERR;
        if (s[0] >= '0' && s[0] <= '7' && s[1] == '\0')
                return s[0] - '0';
        return -EINVAL;
}

int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *format, ...) {
        char buf[2048];
        va_list ap;
        int saved_errno = errno;

        error = abs(error);

        /* Make %m print the error we were given, not whatever errno holds. */
        errno = error;
        va_start(ap, format);
        (void) vsnprintf(buf, sizeof buf, format, ap);
        va_end(ap);

        if (log_to_journal) {
                char line_str[32];
                (void) snprintf(line_str, sizeof line_str, "%i", line);
                if (error > 0)
                        (void) sd_journal_send("MESSAGE=%s", buf, "PRIORITY=%i", level,
                                               "ERRNO=%i", error, "CODE_FILE=%s", file,
                                               "CODE_LINE=%s", line_str, "CODE_FUNC=%s", func,
                                               "SYSLOG_IDENTIFIER=%s", log_ident, NULL);
                else
                        (void) sd_journal_send("MESSAGE=%s", buf, "PRIORITY=%i", level,
                                               "CODE_FILE=%s", file, "CODE_LINE=%s", line_str,
                                               "CODE_FUNC=%s", func,
                                               "SYSLOG_IDENTIFIER=%s", log_ident, NULL);
        } else
                (void) fprintf(stderr, "%s: %s\n", log_ident, buf);

        errno = saved_errno;
        return -error;
}
