/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _noreturn_ __attribute__((noreturn))
#define _const_ __attribute__((const))
#define _pure_ __attribute__((pure))
#define _likely_(x) (__builtin_expect(!!(x), 1))
#define _unlikely_(x) (__builtin_expect(!!(x), 0))

#ifndef MIN
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#endif
#ifndef MAX
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#endif

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

#define streq(a, b) (strcmp((a), (b)) == 0)
#define strneq(a, b, n) (strncmp((a), (b), (n)) == 0)

static inline bool isempty(const char *s) {
        return !s || s[0] == '\0';
}

static inline bool streq_ptr(const char *a, const char *b) {
        return a && b ? strcmp(a, b) == 0 : a == b;
}

static inline const char *strempty(const char *s) {
        return s ?: "";
}

static inline const char *strna(const char *s) {
        return s ?: "n/a";
}

static inline const char *yes_no(bool b) {
        return b ? "yes" : "no";
}

static inline void *mfree(void *p) {
        free(p);
        return NULL;
}

/* Take ownership of a pointer: returns it and leaves NULL behind, so a
 * _cleanup_ on the old variable does nothing. */
#define TAKE_PTR(p)                                     \
        ({                                              \
                __typeof__(p) *_pp_ = &(p);             \
                __typeof__(p) _p_ = *_pp_;              \
                *_pp_ = NULL;                           \
                _p_;                                    \
        })

#define TAKE_FD(fd)                                     \
        ({                                              \
                int *_pfd_ = &(fd);                     \
                int _fd_ = *_pfd_;                      \
                *_pfd_ = -EBADF;                        \
                _fd_;                                   \
        })

#define ASSERT_PTR(p)                                   \
        ({                                              \
                __typeof__(p) _q_ = (p);                \
                assert(_q_);                            \
                _q_;                                    \
        })

/* Errors that are not caused by a failing system call. The marker bit keeps
 * log_*_errno() from printing a stale errno through %m by mistake. */
#define SYNTHETIC_ERRNO(e) (e)

/* libc calls that return -1 and set errno → negative errno. */
#define RET_NERRNO(expr)                                \
        ({                                              \
                int _r_ = (expr);                       \
                _r_ < 0 ? -errno : _r_;                 \
        })

#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)         \
        static inline void func##p(type *p) {           \
                if (*p)                                 \
                        func(*p);                       \
        }

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline int safe_close(int fd) {
        if (fd >= 0) {
                int saved = errno;
                (void) close(fd);
                errno = saved;
        }
        return -EBADF;
}

static inline void closep(int *fd) {
        safe_close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

static inline void fclosep(FILE **f) {
        if (*f)
                (void) fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

#include <dirent.h>
static inline void closedirp(DIR **d) {
        if (*d)
                (void) closedir(*d);
}

char **strv_free(char **l);
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free);
#define _cleanup_strv_free_ _cleanup_(strv_freep)
size_t strv_length(char * const *l);
int strv_push(char ***l, char *value);
int strv_extend(char ***l, const char *value);
bool strv_contains(char * const *l, const char *s);

#define STRV_FOREACH(s, l) for (char * const *s = (l); s && *s; s++)

/* String helpers that return NULL only on OOM. */
char *strjoin_real(const char *first, ...) __attribute__((sentinel));
#define strjoin(...) strjoin_real(__VA_ARGS__, NULL)
const char *startswith(const char *s, const char *prefix) _pure_;
/* s without the suffix, or NULL */
const char *endswith(const char *s, const char *suffix) _pure_;
char *strstrip(char *s);
