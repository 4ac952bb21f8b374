/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "config.h"
#include "log.h"

int config_init(BpfhubConfig *c) {
        *c = (BpfhubConfig) {
                .idle_timeout = BPFHUB_DEFAULT_IDLE_TIMEOUT,
                .log_level = -1,
        };
        c->config_dir = strdup(BPFHUB_CONFIG_DIR);
        c->state_dir = strdup(BPFHUB_STATE_DIR);
        c->bpffs_root = strdup(BPFHUB_BPFFS_ROOT);
        c->image_store = strdup(BPFHUB_IMAGE_STORE);
        if (!c->config_dir || !c->state_dir || !c->bpffs_root || !c->image_store) {
                config_done(c);
                return -ENOMEM;
        }
        return 0;
}

void config_done(BpfhubConfig *c) {
        c->config_dir = mfree(c->config_dir);
        c->state_dir = mfree(c->state_dir);
        c->bpffs_root = mfree(c->bpffs_root);
        c->image_store = mfree(c->image_store);
        c->insecure_registries = strv_free(c->insecure_registries);
        c->warnings = strv_free(c->warnings);
}

static bool path_is_sane(const char *p) {
        if (!p || p[0] != '/' || strlen(p) >= 4096)
                return false;
        /* No control characters: these end up in logs and D-Bus strings. */
        for (const char *i = p; *i; i++)
                if ((unsigned char) *i < ' ' || *i == 0x7f)
                        return false;
        return true;
}

int config_set_path(char **field, const char *value) {
        char *copy;

        if (!path_is_sane(value))
                return -EINVAL;
        copy = strdup(value);
        if (!copy)
                return -ENOMEM;
        /* Strip trailing slashes but keep "/" itself. */
        for (size_t l = strlen(copy); l > 1 && copy[l - 1] == '/'; l--)
                copy[l - 1] = '\0';
        free(*field);
        *field = copy;
        return 0;
}

_printf_(4, 5)
static int config_warn(BpfhubConfig *c, const char *origin, unsigned line, const char *fmt, ...) {
        char msg[512], *w;
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);

        if (asprintf(&w, "%s:%u: %s", origin, line, msg) < 0)
                return -ENOMEM;
        log_warning("%s", w);
        return strv_push(&c->warnings, w);
}

/* Insecure= lists host[:port] entries reached over plain HTTP; an empty
 * assignment clears what earlier files listed. */
static int config_assign_registries(BpfhubConfig *c, const char *key, const char *value, const char *origin,
                                    unsigned line) {
        _cleanup_free_ char *copy = NULL;
        char *saveptr = NULL;

        if (!streq(key, "Insecure"))
                return config_warn(c, origin, line, "unknown setting %s= in [Registries], ignored", key);
        if (isempty(value)) {
                c->insecure_registries = strv_free(c->insecure_registries);
                return 0;
        }
        copy = strdup(value);
        if (!copy)
                return -ENOMEM;
        for (char *w = strtok_r(copy, " \t,", &saveptr); w; w = strtok_r(NULL, " \t,", &saveptr)) {
                bool ok = strlen(w) <= 255 && !strchr(w, '/');
                for (const char *q = w; ok && *q; q++)
                        ok = (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') ||
                             strchr(".-:[]", *q);
                if (!ok) {
                        int r = config_warn(c, origin, line, "Insecure= entry \"%.64s\" is not host[:port], ignored", w);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (!strv_contains(c->insecure_registries, w) && strv_extend(&c->insecure_registries, w) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static int config_assign(BpfhubConfig *c, const char *section, const char *key, const char *value,
                         const char *origin, unsigned line) {
        int r;

        if (streq(section, "Registries"))
                return config_assign_registries(c, key, value, origin, line);
        if (!streq(section, "Daemon"))
                return config_warn(c, origin, line, "unknown section [%s], line ignored", section);

        if (streq(key, "StateDirectory") || streq(key, "BpffsRoot") || streq(key, "ImageStore")) {
                char **field = streq(key, "StateDirectory") ? &c->state_dir :
                               streq(key, "BpffsRoot")      ? &c->bpffs_root :
                                                              &c->image_store;
                r = config_set_path(field, value);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return config_warn(c, origin, line, "%s= needs an absolute path, ignored", key);
                return 0;
        }

        if (streq(key, "IdleTimeout")) {
                usec_t t;
                if (parse_timespan(value, &t) < 0)
                        return config_warn(c, origin, line, "IdleTimeout= is not a time span: \"%s\", ignored", value);
                c->idle_timeout = t;
                return 0;
        }

        if (streq(key, "LogLevel")) {
                int l = log_level_from_string(value);
                if (l < 0)
                        return config_warn(c, origin, line, "LogLevel= is not a log level: \"%s\", ignored", value);
                c->log_level = l;
                return 0;
        }

        return config_warn(c, origin, line, "unknown setting %s= in [%s], ignored", key, section);
}

int config_parse_text(BpfhubConfig *c, const char *text, size_t size, const char *origin) {
        char section[64] = "";
        unsigned line_no = 0;
        const char *p = text, *end = text + size;
        int r;

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t len = nl ? (size_t) (nl - p) : (size_t) (end - p);
                _cleanup_free_ char *buf = NULL;
                char *l, *eq;

                line_no++;
                buf = strndup(p, len);
                if (!buf)
                        return -ENOMEM;
                p += len + (nl ? 1 : 0);

                if (strlen(buf) != len) {
                        r = config_warn(c, origin, line_no, "line contains a NUL byte, ignored");
                        if (r < 0)
                                return r;
                        continue;
                }

                l = strstrip(buf);
                if (l[0] == '\0' || l[0] == '#' || l[0] == ';')
                        continue;

                if (l[0] == '[') {
                        size_t n = strlen(l);
                        if (n < 3 || l[n - 1] != ']' || n - 2 >= sizeof section) {
                                section[0] = '\0';
                                r = config_warn(c, origin, line_no, "invalid section header, ignored");
                        } else {
                                memcpy(section, l + 1, n - 2);
                                section[n - 2] = '\0';
                                r = 0;
                        }
                        if (r < 0)
                                return r;
                        continue;
                }

                eq = strchr(l, '=');
                if (!eq) {
                        r = config_warn(c, origin, line_no, "missing '=', ignored");
                        if (r < 0)
                                return r;
                        continue;
                }
                *eq = '\0';
                if (section[0] == '\0')
                        r = config_warn(c, origin, line_no, "setting outside of a section, ignored");
                else
                        r = config_assign(c, section, strstrip(l), strstrip(eq + 1), origin, line_no);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int config_load_file(BpfhubConfig *c, int dir_fd, const char *name, const char *origin) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *text = NULL;
        struct stat st;
        size_t n = 0;

        fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return errno == ENOENT ? 0 : log_warning_errno(errno, "Failed to open %s: %m", origin);
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return config_warn(c, origin, 0, "not a regular file, ignored");
        if (st.st_size > CONFIG_FILE_SIZE_MAX)
                return config_warn(c, origin, 0, "larger than %d bytes, ignored", CONFIG_FILE_SIZE_MAX);

        text = malloc((size_t) st.st_size + 1);
        if (!text)
                return -ENOMEM;
        while (n < (size_t) st.st_size) {
                ssize_t k = read(fd, text + n, (size_t) st.st_size - n);
                if (k < 0)
                        return log_warning_errno(errno, "Failed to read %s: %m", origin);
                if (k == 0)
                        break;
                n += (size_t) k;
        }
        text[n] = '\0';
        return config_parse_text(c, text, n, origin);
}

static int dropin_filter(const struct dirent *de) {
        size_t l = strlen(de->d_name);

        return de->d_name[0] != '.' && l > 5 && streq(de->d_name + l - 5, ".conf");
}

int config_load(BpfhubConfig *c) {
        _cleanup_close_ int dir_fd = -EBADF, dropin_fd = -EBADF;
        _cleanup_free_ char *main_path = NULL, *dropin_path = NULL;
        struct dirent **names = NULL;
        int n, r = 0;

        main_path = strjoin(c->config_dir, "/bpfhub.conf");
        dropin_path = strjoin(c->config_dir, "/bpfhub.conf.d");
        if (!main_path || !dropin_path)
                return -ENOMEM;

        dir_fd = open(c->config_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0) {
                if (errno == ENOENT)
                        return 0;
                return log_warning_errno(errno, "Failed to open configuration directory %s: %m", c->config_dir);
        }

        r = config_load_file(c, dir_fd, "bpfhub.conf", main_path);
        if (r == -ENOMEM)
                return r;

        n = scandir(dropin_path, &names, dropin_filter, alphasort);
        if (n < 0)
                return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
        dropin_fd = open(dropin_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        for (int i = 0; i < n; i++) {
                if (r != -ENOMEM && dropin_fd >= 0) {
                        _cleanup_free_ char *origin = strjoin(dropin_path, "/", names[i]->d_name);
                        r = origin ? config_load_file(c, dropin_fd, names[i]->d_name, origin) : -ENOMEM;
                }
                free(names[i]);
        }
        free(names);
        return r == -ENOMEM ? r : 0;
}
