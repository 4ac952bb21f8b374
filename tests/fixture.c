/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <bpf/bpf.h>
#include <errno.h>
#include <grp.h>
#include <fcntl.h>
#include <ftw.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <time.h>
#include <unistd.h>

#include "fixture.h"

const char *fixture_build_root(void) {
        return g_getenv("BPFHUB_BUILD_ROOT") ?: BPFHUB_TEST_BUILD_ROOT;
}

const char *fixture_source_root(void) {
        return g_getenv("BPFHUB_SOURCE_ROOT") ?: BPFHUB_TEST_SOURCE_ROOT;
}

char *fixture_build_path(const char *relative) {
        return g_build_filename(fixture_build_root(), relative, NULL);
}

char *fixture_source_path(const char *relative) {
        return g_build_filename(fixture_source_root(), relative, NULL);
}

const char *fixture_cgroup2_root(void) {
        if (access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0)
                return "/sys/fs/cgroup";
        return "/sys/fs/cgroup/unified";
}

bool fixture_strict(void) {
        return g_strcmp0(g_getenv("BPFHUB_TEST_STRICT"), "1") == 0;
}

void fixture_skip_missing(const char *fmt, ...) {
        g_autofree char *reason = NULL;
        va_list ap;

        va_start(ap, fmt);
        reason = g_strdup_vprintf(fmt, ap);
        va_end(ap);

        g_printerr("# %s: %s\n", fixture_strict() ? "FAIL (BPFHUB_TEST_STRICT=1)" : "SKIP", reason);
        if (fixture_strict())
                g_test_fail_printf("%s (a skip for a missing privilege or package is a failure under BPFHUB_TEST_STRICT=1)", reason);
        else
                g_test_skip(reason);
}

void fixture_skip_unsupported(const char *fmt, ...) {
        g_autofree char *reason = NULL;
        va_list ap;

        va_start(ap, fmt);
        reason = g_strdup_vprintf(fmt, ap);
        va_end(ap);

        g_printerr("# SKIP (kernel): %s\n", reason);
        g_test_skip(reason);
}

bool fixture_require_root(void) {
        if (geteuid() == 0)
                return true;
        fixture_skip_missing("needs root (running as uid %u)", (unsigned) geteuid());
        return false;
}

bool fixture_require_program(const char *name) {
        g_autofree char *p = g_find_program_in_path(name);

        if (p)
                return true;
        fixture_skip_missing("needs %s, which is not installed", name);
        return false;
}

static const char *scratch_parent(void) {
        return g_getenv("TMPDIR") ?: "/tmp";
}

static bool pid_alive(pid_t pid) {
        return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

/* Kills the dbus-daemon (and its process group: the daemons it activated)
 * started with a config file in bus_dir. */
static void kill_bus_of(const char *bus_dir) {
        g_autofree char *needle = g_strdup_printf("--config-file=%s/system.conf", bus_dir);
        g_autoptr(GDir) proc = g_dir_open("/proc", 0, NULL);
        const char *name;

        while (proc && (name = g_dir_read_name(proc))) {
                g_autofree char *cmdline_path = g_build_filename("/proc", name, "cmdline", NULL);
                g_autofree char *cmdline = NULL;
                gsize len;
                pid_t pid = (pid_t) g_ascii_strtoll(name, NULL, 10);

                if (pid <= 0 || !g_file_get_contents(cmdline_path, &cmdline, &len, NULL))
                        continue;
                for (gsize off = 0; off < len; off += strlen(cmdline + off) + 1)
                        if (g_str_equal(cmdline + off, needle)) {
                                (void) kill(-pid, SIGKILL);
                                (void) kill(pid, SIGKILL);
                        }
        }
}

/* A test that aborted (a failed assertion) cannot clean up after itself;
 * the next fixture removes what dead test processes left behind. Names
 * carry the owner's pid: bpfhub-test-<pid>-<tag>-XXXXXX. */
static void sweep_stale(void) {
        static bool swept;
        g_autoptr(GDir) dir = NULL;
        g_autofree char *netns = NULL;
        const char *name;

        if (swept)
                return;
        swept = true;

        dir = g_dir_open(scratch_parent(), 0, NULL);
        while (dir && (name = g_dir_read_name(dir))) {
                const char *rest = g_str_has_prefix(name, "bpfhub-test-") ? name + strlen("bpfhub-test-") : NULL;
                pid_t pid = rest ? (pid_t) g_ascii_strtoll(rest, NULL, 10) : 0;

                if (pid > 0 && !pid_alive(pid)) {
                        g_autofree char *path = g_build_filename(scratch_parent(), name, NULL);
                        g_autofree char *bus_dir = g_build_filename(path, "bus", NULL);
                        g_printerr("# removing %s, left behind by dead test process %d\n", path, (int) pid);
                        kill_bus_of(bus_dir);
                        fixture_scratch_free(g_steal_pointer(&path));
                }
        }

        g_clear_pointer(&dir, g_dir_close);
        dir = g_dir_open(FIXTURE_CGROUP_ROOT, 0, NULL);
        while (dir && (name = g_dir_read_name(dir))) {
                const char *rest = g_str_has_prefix(name, "bpfhub-test-") ? name + strlen("bpfhub-test-") : NULL;
                pid_t pid = rest ? (pid_t) g_ascii_strtoll(rest, NULL, 10) : 0;
                g_autofree char *path = g_build_filename(FIXTURE_CGROUP_ROOT, name, NULL);

                if (pid > 0 && !pid_alive(pid))
                        (void) rmdir(path);
        }

        if (geteuid() == 0 && fixture_run(&netns, "ip netns list 2>/dev/null || true") == 0 && netns) {
                g_auto(GStrv) lines = g_strsplit(netns, "\n", -1);
                for (char **l = lines; *l; l++) {
                        const char *rest = g_str_has_prefix(*l, "bpfhub-test-") ? *l + strlen("bpfhub-test-") : NULL;
                        pid_t pid = rest ? (pid_t) g_ascii_strtoll(rest, NULL, 10) : 0;
                        g_autofree char *ns = g_strndup(*l, strcspn(*l, " "));
                        if (pid > 0 && !pid_alive(pid))
                                (void) fixture_run(NULL, "ip netns del %s", ns);
                }
        }
}

char *fixture_scratch_new(const char *tag) {
        g_autofree char *template = NULL;
        char *p;

        sweep_stale();
        template = g_strdup_printf("%s/bpfhub-test-%d-%s-XXXXXX", scratch_parent(), (int) getpid(), tag);
        p = g_mkdtemp(template);
        g_assert_nonnull(p);
        return g_steal_pointer(&template);
}

/* Mount points at or below "path", deepest first. */
static GPtrArray *mounts_below(const char *path) {
        GPtrArray *found = g_ptr_array_new_with_free_func(g_free);
        g_autofree char *text = NULL;
        g_auto(GStrv) lines = NULL;
        size_t plen = strlen(path);

        if (!g_file_get_contents("/proc/self/mountinfo", &text, NULL, NULL))
                return found;
        lines = g_strsplit(text, "\n", -1);
        for (char **l = lines; *l; l++) {
                g_auto(GStrv) f = g_strsplit(*l, " ", 6);
                if (g_strv_length(f) < 5)
                        continue;
                /* Field 5 is the mount point, octal-escaped. */
                g_autofree char *mp = g_strcompress(f[4]);
                if (strncmp(mp, path, plen) == 0 && (mp[plen] == '/' || mp[plen] == '\0'))
                        g_ptr_array_add(found, g_steal_pointer(&mp));
        }
        /* Longer paths are deeper. */
        for (guint i = 0; i < found->len; i++)
                for (guint j = i + 1; j < found->len; j++)
                        if (strlen(found->pdata[j]) > strlen(found->pdata[i])) {
                                gpointer t = found->pdata[i];
                                found->pdata[i] = found->pdata[j];
                                found->pdata[j] = t;
                        }
        return found;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        if (remove(path) < 0 && errno != ENOENT)
                g_printerr("# warning: could not remove %s: %s\n", path, g_strerror(errno));
        return 0;
}

void fixture_scratch_free(char *path) {
        g_autoptr(GPtrArray) mounts = NULL;

        if (!path)
                return;
        mounts = mounts_below(path);
        for (guint i = 0; i < mounts->len; i++)
                (void) umount2(mounts->pdata[i], MNT_DETACH);
        /* FTW_MOUNT: never cross into a file system that is still mounted. */
        (void) nftw(path, remove_entry, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
        g_free(path);
}

unsigned fixture_count_entries(const char *dir) {
        g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
        unsigned n = 0;

        while (d && g_dir_read_name(d))
                n++;
        return n;
}

int fixture_run(char **out, const char *fmt, ...) {
        g_autofree char *cmd = NULL, *std_out = NULL, *std_err = NULL;
        g_autoptr(GError) error = NULL;
        const char *argv[] = { "/bin/sh", "-c", NULL, NULL };
        int status;
        va_list ap;

        va_start(ap, fmt);
        cmd = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        argv[2] = cmd;

        if (!g_spawn_sync(NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &std_out, &std_err,
                          &status, &error)) {
                g_printerr("# failed to run '%s': %s\n", cmd, error->message);
                return -1;
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                /* Every line a comment, and a newline at the end: TAP reads this stream. */
                g_autofree char *err = g_strstrip(g_strdup(std_err ?: ""));
                g_autofree char *commented = NULL;
                g_auto(GStrv) lines = g_strsplit(err, "\n", -1);
                commented = g_strjoinv("\n#   ", lines);
                g_printerr("# '%s' exited with %d%s%s\n", cmd, WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                           *err ? ":\n#   " : "", commented);
        }
        if (out)
                *out = g_steal_pointer(&std_out);
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static const char bus_config_template[] =
        "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
        " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
        "<busconfig>\n"
        "  <type>system</type>\n"
        "  <listen>unix:path=%s/socket</listen>\n"
        "  <auth>EXTERNAL</auth>\n"
        "  <servicedir>%s/services</servicedir>\n"
        /* The default-deny policy of Debian's system bus. */
        "  <policy context=\"default\">\n"
        "    <allow user=\"*\"/>\n"
        "    <deny own=\"*\"/>\n"
        "    <deny send_type=\"method_call\"/>\n"
        "    <allow send_type=\"signal\"/>\n"
        "    <allow send_requested_reply=\"true\" send_type=\"method_return\"/>\n"
        "    <allow send_requested_reply=\"true\" send_type=\"error\"/>\n"
        "    <allow receive_type=\"method_call\"/>\n"
        "    <allow receive_type=\"method_return\"/>\n"
        "    <allow receive_type=\"error\"/>\n"
        "    <allow receive_type=\"signal\"/>\n"
        "    <allow send_destination=\"org.freedesktop.DBus\" send_interface=\"org.freedesktop.DBus\"/>\n"
        "    <allow send_destination=\"org.freedesktop.DBus\" send_interface=\"org.freedesktop.DBus.Introspectable\"/>\n"
        "    <allow send_destination=\"org.freedesktop.DBus\" send_interface=\"org.freedesktop.DBus.Properties\"/>\n"
        "    <deny send_destination=\"org.freedesktop.DBus\" send_interface=\"org.freedesktop.DBus\" send_member=\"UpdateActivationEnvironment\"/>\n"
        "    <deny send_destination=\"org.freedesktop.DBus\" send_interface=\"org.freedesktop.DBus.Debug.Stats\"/>\n"
        "    <deny send_destination=\"org.freedesktop.DBus\" send_interface=\"org.freedesktop.systemd1.Activator\"/>\n"
        "  </policy>\n"
        "  <policy user=\"root\">\n"
        "    <allow send_destination=\"org.freedesktop.DBus\" send_interface=\"org.freedesktop.systemd1.Activator\"/>\n"
        "  </policy>\n"
        "  <limit name=\"service_start_timeout\">30000</limit>\n"
        "  <includedir>%s/system.d</includedir>\n"
        "</busconfig>\n";

static bool write_file(const char *path, const char *contents) {
        g_autoptr(GError) error = NULL;

        if (!g_file_set_contents(path, contents, -1, &error)) {
                g_printerr("# cannot write %s: %s\n", path, error->message);
                return false;
        }
        return true;
}

static void own_process_group(void) {
        /* Put dbus-daemon (and what it activates) in its own process group so
         * a stray signal to the test does not reach it and vice versa. */
        (void) setpgid(0, 0);
}

bool bus_fixture_start(BusFixture *f, const char *scratch, const char *extra_args) {
        g_autofree char *conf = NULL, *conf_path = NULL, *service = NULL, *service_path = NULL;
        g_autofree char *policy_src = NULL, *policy_dst = NULL, *policy = NULL, *daemon = NULL;
        g_autofree char *services_dir = NULL, *systemd_dir = NULL, *print_fd = NULL;
        g_autoptr(GError) error = NULL;
        int pipe_fds[2], log_fd;
        char buf[512];
        size_t n = 0;

        if (!fixture_require_program("dbus-daemon"))
                return false;

        *f = (BusFixture) { .scratch = g_strdup(scratch) };
        f->dir = g_build_filename(scratch, "bus", NULL);
        services_dir = g_build_filename(f->dir, "services", NULL);
        systemd_dir = g_build_filename(f->dir, "system.d", NULL);
        f->log_path = g_build_filename(f->dir, "bus.log", NULL);
        f->config_dir = g_build_filename(scratch, "etc", NULL);
        f->state_dir = g_build_filename(scratch, "run", NULL);
        f->bpffs_root = g_build_filename(scratch, "bpffs", "bpfhub", NULL);
        f->image_store = g_build_filename(scratch, "images", NULL);
        g_assert_cmpint(g_mkdir_with_parents(services_dir, 0755), ==, 0);
        g_assert_cmpint(g_mkdir_with_parents(systemd_dir, 0755), ==, 0);
        g_assert_cmpint(g_mkdir_with_parents(f->config_dir, 0755), ==, 0);

        conf = g_strdup_printf(bus_config_template, f->dir, f->dir, f->dir);
        conf_path = g_build_filename(f->dir, "system.conf", NULL);
        if (!write_file(conf_path, conf))
                return false;

        /* The project's own bus policy, exactly as installed. */
        policy_src = fixture_source_path("dbus/org.bpfhub.Manager1.conf");
        policy_dst = g_build_filename(systemd_dir, "org.bpfhub.Manager1.conf", NULL);
        g_assert_true(g_file_get_contents(policy_src, &policy, NULL, NULL));
        if (!write_file(policy_dst, policy))
                return false;

        daemon = fixture_build_path("service/bpfhubd");
        service = g_strdup_printf("[D-BUS Service]\n"
                                  "Name=org.bpfhub.Manager1\n"
                                  "Exec=%s --config-dir=%s --state-dir=%s --bpffs-root=%s --image-store=%s%s%s\n"
                                  "User=root\n",
                                  daemon, f->config_dir, f->state_dir, f->bpffs_root, f->image_store,
                                  extra_args ? " " : "", extra_args ?: "");
        service_path = g_build_filename(services_dir, "org.bpfhub.Manager1.service", NULL);
        if (!write_file(service_path, service))
                return false;

        g_assert_cmpint(pipe2(pipe_fds, O_CLOEXEC), ==, 0);
        log_fd = open(f->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        g_assert_cmpint(log_fd, >=, 0);

        f->bus_pid = fork();
        g_assert_cmpint(f->bus_pid, >=, 0);
        if (f->bus_pid == 0) {
                own_process_group();
                (void) dup2(pipe_fds[1], 3);
                (void) dup2(log_fd, STDOUT_FILENO);
                (void) dup2(log_fd, STDERR_FILENO);
                (void) close(STDIN_FILENO);
                (void) open("/dev/null", O_RDONLY);
                /* Logs of bpfhubd go to the inherited stderr, not the journal. */
                (void) unsetenv("JOURNAL_STREAM");
                fixture_sanitizer_env(f->dir);
                print_fd = g_strdup_printf("--config-file=%s", conf_path);
                execlp("dbus-daemon", "dbus-daemon", print_fd, "--nofork", "--print-address=3", (char *) NULL);
                _exit(127);
        }
        (void) close(pipe_fds[1]);
        (void) close(log_fd);

        /* Wait for the address line. */
        for (;;) {
                struct pollfd p = { .fd = pipe_fds[0], .events = POLLIN };
                ssize_t k;

                if (poll(&p, 1, 10000) <= 0) {
                        g_printerr("# dbus-daemon did not print its address in 10 s\n");
                        break;
                }
                k = read(pipe_fds[0], buf + n, sizeof buf - 1 - n);
                if (k <= 0)
                        break;
                n += (size_t) k;
                buf[n] = '\0';
                if (memchr(buf, '\n', n))
                        break;
        }
        (void) close(pipe_fds[0]);
        if (n == 0 || !memchr(buf, '\n', n)) {
                g_autofree char *log = bus_fixture_read_log(f);
                g_printerr("# dbus-daemon failed to start: %s\n", log ?: "");
                bus_fixture_stop(f);
                return false;
        }
        *strchr(buf, '\n') = '\0';
        /* Only the socket path: the guid part would pin clients to this run. */
        f->address = g_strdup_printf("unix:path=%s/socket", f->dir);
        g_setenv("DBUS_SYSTEM_BUS_ADDRESS", f->address, TRUE);
        return true;
}

void fixture_sanitizer_env(const char *dir) {
        g_autofree char *asan = g_strdup_printf("detect_leaks=1:abort_on_error=1:log_path=%s/sanitizer", dir);
        g_autofree char *ubsan = g_strdup_printf("print_stacktrace=1:halt_on_error=1:log_path=%s/sanitizer", dir);

        (void) setenv("ASAN_OPTIONS", asan, 1);
        (void) setenv("UBSAN_OPTIONS", ubsan, 1);
}

bool fixture_check_sanitizer_reports(const char *dir) {
        g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
        const char *name;
        bool clean = true;

        while (d && (name = g_dir_read_name(d))) {
                g_autofree char *path = NULL, *text = NULL;

                if (!g_str_has_prefix(name, "sanitizer."))
                        continue;
                path = g_build_filename(dir, name, NULL);
                (void) g_file_get_contents(path, &text, NULL, NULL);
                g_printerr("# sanitizer report from a daemon (%s):\n%s\n", name, text ?: "");
                clean = false;
        }
        return clean;
}

static bool process_gone(pid_t pid) {
        return kill(pid, 0) < 0 && errno == ESRCH;
}

void bus_fixture_stop(BusFixture *f) {
        if (g_test_failed() && f->log_path) {
                g_autofree char *log = bus_fixture_read_log(f);
                g_printerr("# bus log:\n%s", log);
        }
        if (f->bus_pid > 0) {
                /* Stop every bpfhubd this bus started (they are in its process
                 * group), then the bus itself. */
                (void) kill(-f->bus_pid, SIGTERM);
                for (int i = 0; i < 200; i++) {
                        if (waitpid(f->bus_pid, NULL, WNOHANG) == f->bus_pid)
                                break;
                        g_usleep(10000);
                        if (i == 199) {
                                (void) kill(-f->bus_pid, SIGKILL);
                                (void) waitpid(f->bus_pid, NULL, 0);
                        }
                }
                /* Orphaned activated daemons were reparented; make sure they end. */
                for (int i = 0; i < 200 && !process_gone(-f->bus_pid); i++)
                        g_usleep(10000);
                (void) kill(-f->bus_pid, SIGKILL);
                f->bus_pid = 0;
        }
        if (f->address)
                g_unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
        if (f->dir && !fixture_check_sanitizer_reports(f->dir))
                g_test_fail_printf("AddressSanitizer/UndefinedBehaviorSanitizer reported errors in a daemon");
        g_clear_pointer(&f->scratch, g_free);
        g_clear_pointer(&f->dir, g_free);
        g_clear_pointer(&f->address, g_free);
        g_clear_pointer(&f->log_path, g_free);
        g_clear_pointer(&f->config_dir, g_free);
        g_clear_pointer(&f->state_dir, g_free);
        g_clear_pointer(&f->bpffs_root, g_free);
        g_clear_pointer(&f->image_store, g_free);
}

bool bus_fixture_add_polkit(BusFixture *f, const char *rules, const char *extra_group_line) {
        g_autofree char *dir = g_build_filename(f->dir, "polkit", NULL);
        g_autofree char *actions = g_build_filename(dir, "actions", NULL);
        g_autofree char *rules_dir = g_build_filename(dir, "rules", NULL);
        g_autofree char *empty = g_build_filename(dir, "empty", NULL);
        g_autofree char *group = g_build_filename(dir, "group", NULL);
        g_autofree char *wrapper = g_build_filename(dir, "polkitd-wrapper", NULL);
        g_autofree char *policy_src = fixture_build_path("polkit/org.bpfhub.policy");
        g_autofree char *policy = NULL, *groups = NULL, *bus_conf = NULL, *script = NULL, *service = NULL;

        if (!fixture_require_program("unshare") || !g_file_test("/usr/lib/polkit-1/polkitd", G_FILE_TEST_IS_EXECUTABLE)) {
                fixture_skip_missing("needs polkitd (package polkitd)");
                return false;
        }
        g_assert_cmpint(g_mkdir_with_parents(actions, 0755), ==, 0);
        g_assert_cmpint(g_mkdir_with_parents(rules_dir, 0755), ==, 0);
        g_assert_cmpint(g_mkdir_with_parents(empty, 0755), ==, 0);

        g_assert_true(g_file_get_contents(policy_src, &policy, NULL, NULL));
        g_autofree char *policy_dst = g_build_filename(actions, "org.bpfhub.policy", NULL);
        g_autofree char *rules_dst = g_build_filename(rules_dir, "10-test.rules", NULL);
        g_autofree char *conf_dst = g_build_filename(f->dir, "system.d", "org.freedesktop.PolicyKit1.conf", NULL);
        g_autofree char *service_dst = g_build_filename(f->dir, "services", "org.freedesktop.PolicyKit1.service", NULL);
        g_assert_true(g_file_set_contents(policy_dst, policy, -1, NULL));
        g_assert_true(g_file_set_contents(rules_dst, rules, -1, NULL));
        g_assert_true(g_file_get_contents("/etc/group", &groups, NULL, NULL));
        {
                g_autofree char *all = g_strconcat(groups, extra_group_line ?: "", extra_group_line ? "\n" : "", NULL);
                g_assert_true(g_file_set_contents(group, all, -1, NULL));
        }
        g_assert_true(g_file_get_contents("/usr/share/dbus-1/system.d/org.freedesktop.PolicyKit1.conf", &bus_conf, NULL, NULL));
        g_assert_true(g_file_set_contents(conf_dst, bus_conf, -1, NULL));

        script = g_strdup_printf("#!/bin/sh\n"
                                 "# polkitd with the test's actions and rules, in a private mount namespace.\n"
                                 "exec unshare --mount --propagation private sh -c '\n"
                                 "  mount --bind %s /usr/share/polkit-1/actions &&\n"
                                 "  mount --bind %s /etc/polkit-1/rules.d &&\n"
                                 "  mount --bind %s /usr/share/polkit-1/rules.d &&\n"
                                 "  mount --bind %s /etc/group &&\n"
                                 "  exec /usr/lib/polkit-1/polkitd --no-debug'\n",
                                 actions, rules_dir, empty, group);
        g_assert_true(g_file_set_contents(wrapper, script, -1, NULL));
        g_assert_cmpint(chmod(wrapper, 0755), ==, 0);
        service = g_strdup_printf("[D-BUS Service]\nName=org.freedesktop.PolicyKit1\nExec=%s\nUser=root\n", wrapper);
        g_assert_true(g_file_set_contents(service_dst, service, -1, NULL));

        /* polkitd drops to its own user: it must reach and read all this. */
        g_assert_cmpint(fixture_run(NULL, "chmod 755 %s %s && chmod -R a+rX %s", f->scratch, f->dir, dir), ==, 0);
        return fixture_run(NULL, "busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ReloadConfig") == 0;
}

int bus_fixture_as_nobody(BusFixture *f, int (*fn)(sd_bus *bus, void *userdata), void *userdata) {
        pid_t pid;
        int status;

        /* The bus socket lives below the scratch dir: nobody must reach it. */
        g_assert_cmpint(chmod(f->scratch, 0755), ==, 0);
        pid = fork();
        g_assert_cmpint(pid, >=, 0);
        if (pid == 0) {
                sd_bus *bus = NULL;

                if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
                    setresuid(65534, 65534, 65534) < 0 || sd_bus_open_system(&bus) < 0)
                        _exit(FIXTURE_NOBODY_SETUP_FAILED);
                _exit(fn(bus, userdata));
        }
        g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
        g_assert_true(WIFEXITED(status));
        return WEXITSTATUS(status);
}

unsigned fixture_count_kernel_programs(void) {
        unsigned n = 0;

        for (uint32_t id = 0; bpf_prog_get_next_id(id, &id) == 0;)
                n++;
        return n;
}

uint64_t fixture_read_pinned_u64(const char *bpffs_root, uint32_t owner, const char *map, uint32_t key) {
        g_autofree char *pin = g_strdup_printf("%s/maps/%u/%s", bpffs_root, owner, map);
        int fd = bpf_obj_get(pin);
        uint64_t v = 0;

        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(bpf_map_lookup_elem(fd, &key, &v), ==, 0);
        close(fd);
        return v;
}

sd_bus *bus_fixture_connect(BusFixture *f) {
        sd_bus *bus = NULL;
        int r;

        r = sd_bus_new(&bus);
        g_assert_cmpint(r, >=, 0);
        g_assert_cmpint(sd_bus_set_address(bus, f->address), >=, 0);
        g_assert_cmpint(sd_bus_set_bus_client(bus, 1), >=, 0);
        r = sd_bus_start(bus);
        if (r < 0)
                g_error("cannot connect to the fixture bus %s: %s", f->address, g_strerror(-r));
        return bus;
}

pid_t bus_fixture_daemon_pid(sd_bus *bus) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        uint32_t pid = 0;
        int r;

        r = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                               "GetConnectionUnixProcessID", &error, &reply, "s", BPFHUB_BUS_NAME);
        if (r >= 0)
                (void) sd_bus_message_read(reply, "u", &pid);
        sd_bus_error_free(&error);
        sd_bus_message_unref(reply);
        return (pid_t) pid;
}

bool bus_fixture_name_has_owner(sd_bus *bus) {
        sd_bus_message *reply = NULL;
        int has = 0, r;

        r = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                               "NameHasOwner", NULL, &reply, "s", BPFHUB_BUS_NAME);
        g_assert_cmpint(r, >=, 0);
        g_assert_cmpint(sd_bus_message_read(reply, "b", &has), >=, 0);
        sd_bus_message_unref(reply);
        return has;
}

bool bus_fixture_wait_name_gone(sd_bus *bus, unsigned timeout_ms) {
        for (unsigned waited = 0; waited <= timeout_ms; waited += 10) {
                if (!bus_fixture_name_has_owner(bus))
                        return true;
                g_usleep(10000);
        }
        return false;
}

char *bus_fixture_read_log(BusFixture *f) {
        char *text = NULL;

        if (!f->log_path || !g_file_get_contents(f->log_path, &text, NULL, NULL))
                return g_strdup("");
        return text;
}

bool fixture_mount(const char *fstype, const char *dir) {
        g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
        if (mount(fstype, dir, fstype, 0, NULL) == 0)
                return true;
        if (errno == EPERM)
                fixture_skip_missing("cannot mount %s on %s: %s", fstype, dir, g_strerror(errno));
        else if (errno == ENODEV)
                fixture_skip_unsupported("the kernel has no %s file system", fstype);
        else
                g_test_fail_printf("mount %s on %s: %s", fstype, dir, g_strerror(errno));
        return false;
}

void fixture_umount(const char *dir) {
        if (dir)
                (void) umount2(dir, MNT_DETACH);
}

bool netns_fixture_start(NetnsFixture *n, const char *tag) {
        static unsigned counter;
        unsigned id = ((unsigned) getpid() * 7 + counter++) % 10000;
        unsigned subnet = 4 * (id % 63);

        if (!fixture_require_root() || !fixture_require_program("ip"))
                return false;

        *n = (NetnsFixture) {
                .netns = g_strdup_printf("bpfhub-test-%d-%s", (int) getpid(), tag),
                .host_if = g_strdup_printf("bht%ua", id),
                .peer_if = g_strdup_printf("bht%ub", id),
                /* TEST-NET-2; TEST-NET-1 (192.0.2.0/24) is this machine's own eth0. */
                .host_addr = g_strdup_printf("198.51.100.%u", subnet + 1),
                .peer_addr = g_strdup_printf("198.51.100.%u", subnet + 2),
        };
        /* An address the host already has would send our traffic to the host itself. */
        if (fixture_run(NULL, "! ip -4 -o addr show | grep -qE ' (%s|%s)/'", n->host_addr, n->peer_addr) != 0) {
                netns_fixture_stop(n);
                g_test_fail_printf("test addresses %s/%s are in use on this host", n->host_addr, n->peer_addr);
                return false;
        }
        if (fixture_run(NULL, "ip netns add %s", n->netns) != 0 ||
            fixture_run(NULL, "ip link add %s type veth peer name %s netns %s", n->host_if, n->peer_if, n->netns) != 0 ||
            fixture_run(NULL, "ip addr add %s/30 dev %s && ip link set %s up", n->host_addr, n->host_if, n->host_if) != 0 ||
            fixture_run(NULL, "ip -n %s addr add %s/30 dev %s && ip -n %s link set %s up && ip -n %s link set lo up",
                        n->netns, n->peer_addr, n->peer_if, n->netns, n->peer_if, n->netns) != 0) {
                netns_fixture_stop(n);
                g_test_fail_printf("could not create network namespace %s with a veth pair", tag);
                return false;
        }
        n->host_ifindex = (int) if_nametoindex(n->host_if);
        g_assert_cmpint(n->host_ifindex, >, 0);

        /* Traffic sent before the pair has carrier is lost: wait for it. */
        {
                g_autofree char *operstate = g_strdup_printf("/sys/class/net/%s/operstate", n->host_if);
                for (int i = 0; i < 300; i++) {
                        g_autofree char *state = NULL;
                        if (g_file_get_contents(operstate, &state, NULL, NULL) && g_str_has_prefix(state, "up"))
                                break;
                        g_usleep(10000);
                }
        }
        return true;
}

void netns_fixture_stop(NetnsFixture *n) {
        if (n->host_if)
                (void) fixture_run(NULL, "ip link del %s 2>/dev/null || true", n->host_if);
        if (n->netns)
                (void) fixture_run(NULL, "ip netns del %s 2>/dev/null || true", n->netns);
        g_clear_pointer(&n->netns, g_free);
        g_clear_pointer(&n->host_if, g_free);
        g_clear_pointer(&n->peer_if, g_free);
        g_clear_pointer(&n->host_addr, g_free);
        g_clear_pointer(&n->peer_addr, g_free);
}

int fixture_bpfhubctl(char **out, const char *fmt, ...) {
        g_autofree char *args = NULL;
        va_list ap;

        va_start(ap, fmt);
        args = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        return fixture_run(out, "cd %s && LC_ALL=C.UTF-8 client/bpfhubctl --no-pager %s", fixture_build_root(), args);
}

bool fixture_daemon_supports(const char *feature) {
        g_autofree char *out = NULL, *needle = g_strdup_printf("\"name\":\"%s\",", feature);
        const char *entry, *end, *yes;

        if (fixture_bpfhubctl(&out, "status --json=short") != 0 || !out)
                return false;
        entry = strstr(out, needle);
        end = entry ? strchr(entry, '}') : NULL;
        yes = entry ? strstr(entry, "\"supported\":true") : NULL;
        return entry && end && yes && yes < end;
}
