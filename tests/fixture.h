/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Real components for tests: each fixture starts the real thing in a scratch
 * directory and removes everything it made, also when a test fails. */

#include <glib.h>
#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

/* Paths of the tree under test (set by meson test, with build-time defaults). */
const char *fixture_build_root(void);
const char *fixture_source_root(void);
char *fixture_build_path(const char *relative);
char *fixture_source_path(const char *relative);

/* Skips. A missing privilege or package is a failure under
 * BPFHUB_TEST_STRICT=1 (CI has everything); a kernel that truly lacks a
 * feature is always a plain skip. Both print the reason. */
void fixture_skip_missing(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
void fixture_skip_unsupported(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
bool fixture_strict(void);

/* Where cgroup v2 is mounted: /sys/fs/cgroup on a unified host,
 * /sys/fs/cgroup/unified on a hybrid one. Tests make cgroups named
 * bpfhub-test-<pid>-* below it. */
const char *fixture_cgroup2_root(void);
#define FIXTURE_CGROUP_ROOT fixture_cgroup2_root()

/* Returns false (after skipping or failing) when not root. */
bool fixture_require_root(void);
/* Returns false (after skipping or failing) when a program is not in PATH. */
bool fixture_require_program(const char *name);

/* A fresh directory under $TMPDIR (or /tmp), removed recursively (after
 * unmounting anything mounted below it) by fixture_scratch_free(). */
char *fixture_scratch_new(const char *tag);
void fixture_scratch_free(char *path);

/* Entries in a directory (0 when it does not exist). */
unsigned fixture_count_entries(const char *dir);

/* Runs a command line through /bin/sh, returns its exit status (or -1), and
 * captures stdout when "out" is not NULL. */
int fixture_run(char **out, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* A private system bus (dbus-daemon) with the project's bus policy whose
 * activation file starts the freshly built bpfhubd. While it runs,
 * DBUS_SYSTEM_BUS_ADDRESS points at it. */
typedef struct BusFixture {
        char *scratch;          /* owned by the caller */
        char *dir;              /* scratch/bus */
        char *address;
        char *log_path;         /* dbus-daemon's and bpfhubd's stderr */
        char *config_dir, *state_dir, *bpffs_root, *image_store;
        pid_t bus_pid;
} BusFixture;

/* extra_args: further bpfhubd options for the activation file's Exec= line. */
bool bus_fixture_start(BusFixture *f, const char *scratch, const char *extra_args);
/* Prints the bus log (dbus-daemon's and the daemons') when the test failed. */
void bus_fixture_stop(BusFixture *f);

/* Adds a real polkitd to the bus, started by activation inside its own mount
 * namespace where the project's action file, the given rules (ES5) and a
 * private /etc/group with the given extra line (or NULL) replace the
 * system's. The host's polkit configuration is never touched. */
bool bus_fixture_add_polkit(BusFixture *f, const char *rules, const char *extra_group_line);

/* Runs fn(bus, userdata) as uid/gid 65534 ("nobody") in a child connected
 * to the fixture's bus and returns the child's exit status: fn's return
 * value, or FIXTURE_NOBODY_SETUP_FAILED. */
#define FIXTURE_NOBODY_SETUP_FAILED 100
int bus_fixture_as_nobody(BusFixture *f, int (*fn)(sd_bus *bus, void *userdata), void *userdata);

/* Runs the freshly built bpfhubctl --no-pager with the given arguments
 * (a shell command line tail), in the build root, in the C.UTF-8 locale;
 * as fixture_run(). */
int fixture_bpfhubctl(char **out, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* Whether the running bpfhubd (on the fixture's bus) reports the kernel
 * feature as supported in `bpfhubctl status`: tests of what only some
 * kernels run skip by the daemon's own probe. */
bool fixture_daemon_supports(const char *feature);

/* How many BPF programs the kernel holds, whoever loaded them. */
unsigned fixture_count_kernel_programs(void);

/* A u64 at key in the array map <bpffs_root>/maps/<owner>/<map>. */
uint64_t fixture_read_pinned_u64(const char *bpffs_root, uint32_t owner, const char *map, uint32_t key);

/* A new connection to the fixture's bus. */
sd_bus *bus_fixture_connect(BusFixture *f);
/* The pid owning org.bpfhub.Manager1, or 0 when nobody owns it. */
pid_t bus_fixture_daemon_pid(sd_bus *bus);
bool bus_fixture_name_has_owner(sd_bus *bus);
/* Polls until nobody owns the name; false after timeout_ms. */
bool bus_fixture_wait_name_gone(sd_bus *bus, unsigned timeout_ms);
/* Reads the whole log so far. */
char *bus_fixture_read_log(BusFixture *f);

/* Sends sanitizer reports of processes started with this environment to
 * <dir>/sanitizer.<pid>; the check prints them and returns false if any. */
void fixture_sanitizer_env(const char *dir);
bool fixture_check_sanitizer_reports(const char *dir);

/* bpffs and tracefs instances mounted on directories in the scratch dir. */
bool fixture_mount(const char *fstype, const char *dir);
void fixture_umount(const char *dir);

/* A network namespace with a veth pair: host_if stays in the caller's
 * namespace, peer_if lives in the namespace; a /30 of 198.51.100.0/24. */
typedef struct NetnsFixture {
        char *netns;            /* name under /run/netns */
        char *host_if;
        char *peer_if;
        char *host_addr;        /* without prefix length */
        char *peer_addr;
        int host_ifindex;
} NetnsFixture;

bool netns_fixture_start(NetnsFixture *n, const char *tag);
void netns_fixture_stop(NetnsFixture *n);
