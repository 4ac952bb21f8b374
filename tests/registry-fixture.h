/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Debian's docker-registry (distribution 2.8) on loopback, in three set-ups,
 * with test images built from the project's own BPF objects published into
 * it. Everything is real: the registry, TLS with a CA made per run, htpasswd
 * basic auth, bearer tokens from tests/token-server.c. */

#include <glib.h>
#include <stdbool.h>
#include <sys/types.h>

/* What the standard test images hold (bpf/xdp-counter.bpf.c). */
#define TEST_IMAGE_FUNCTION "xdp_stats"
#define TEST_IMAGE_MAP "xdp_stats_map"

typedef enum RegistryMode {
        REGISTRY_PLAIN,         /* plain HTTP, anonymous */
        REGISTRY_TLS_BASIC,     /* HTTPS with a CA generated per run (SAN IP:127.0.0.1), htpasswd bcrypt basic auth */
        REGISTRY_TLS_TOKEN,     /* HTTPS + bearer tokens from our own token server (tests/token-server.c) */
} RegistryMode;

typedef struct RegistryFixture {
        RegistryMode mode;
        char *dir;              /* <scratch>/registry-<mode>: config.yml, storage/, certs, htpasswd, logs, pid files */
        char *host;             /* "127.0.0.1:<port>" */
        char *storage;          /* the filesystem driver's rootdirectory */
        char *ca_path;          /* PEM of the CA that signed the registry's certificate (TLS modes), else NULL */
        char *username, *password;      /* what the registry accepts (TLS modes; NULL for PLAIN) */
        char *token_host;       /* "127.0.0.1:<port>" of the token server (TOKEN mode), else NULL */
        pid_t registry_pid, token_pid;  /* each the leader of its own process group */
        char *log_path;         /* the registry's log; the token server logs to <dir>/token-server.log */
} RegistryFixture;

/* Starts the registry (and, in TOKEN mode, the token server) and waits until
 * /v2/ answers. On failure: false after g_test_fail_printf (or a skip when
 * docker-registry, openssl or htpasswd is missing), with *r cleaned up, so
 * registry_fixture_stop() is harmless. The children die with the thread that
 * started them (PR_SET_PDEATHSIG: start fixtures from the test's main
 * thread); <dir>/registry.pid and <dir>/token-server.pid name them, and ones
 * a crashed test process left behind are killed by the next start. */
bool registry_fixture_start(RegistryFixture *r, const char *scratch, RegistryMode mode);
/* Kills the registry and token server (process groups), waits for them,
 * prints their logs when the test failed, and frees. Safe on a zeroed or
 * already stopped fixture. Leaves r->dir on disk (it is in the scratch dir). */
void registry_fixture_stop(RegistryFixture *r);
/* Stops the registry process but keeps its storage... */
bool registry_fixture_pause(RegistryFixture *r);
/* ...and starts it again on the same port. */
bool registry_fixture_resume(RegistryFixture *r);
/* storage/docker/registry/v2/blobs/sha256/<xx>/<hex>/data, for corruption tests. */
char *registry_fixture_blob_path(RegistryFixture *r, const char *digest);

/* A push client on libcurl: basic auth in TLS_BASIC mode, the Bearer
 * challenge answered with a token from the realm in TOKEN mode. Both return
 * NULL after g_test_fail_printf on failure. */
/* Pushes bytes as a blob; returns "sha256:<hex>". */
char *registry_push_blob(RegistryFixture *r, const char *repo, const void *data, size_t size);
/* Pushes a manifest or index under reference (tag or digest); returns its digest. */
char *registry_push_manifest(RegistryFixture *r, const char *repo, const char *reference, const char *media_type,
                             const char *json);

/* A tar+gzip layer (built in memory) holding one regular file at the root. */
GBytes *test_layer_targz(const char *name, const void *data, size_t size);

/* Publishes every standard test image and returns true (false after
 * g_test_fail_printf). The images are built once per process from
 * bpf/xdp-counter.bpf.o (bpfel) and bpf/xdp-counter.bpfeb.o; function
 * TEST_IMAGE_FUNCTION ("xdp_stats", type xdp), map TEST_IMAGE_MAP
 * ("xdp_stats_map", per_cpu_array):
 *   bpfman/xdp-counter:v1         OCI manifest, amd64, labels io.ebpf.programs/io.ebpf.maps,
 *                                 one tar+gzip layer with xdp-counter.bpf.o
 *   bpfman/xdp-counter-docker:v1  the same with docker schema 2 media types
 *   bpfman/multi:v1               OCI index: linux/amd64, linux/arm64 (v8), linux/s390x (bpfeb object)
 *   bpfman/noamd64:v1             OCI index: linux/arm64 (v8), linux/s390x
 *   bpfman/wrong-endian:v1        amd64 manifest whose layer holds the bpfeb object
 *   bpfman/legacy:v1              only io.ebpf.filename/program_name/bpf_function_name/program_type
 *   bumblebee/xdp-counter:v1      bumblebee artifact: config "{}", raw ELF layer (title program.o)
 *   hostile/traversal:v1          tar entry ../../evil.o
 *   hostile/absolute:v1           tar entry /etc/evil.o
 *   hostile/symlink:v1            only a symlink x.o -> /etc/passwd
 *   hostile/device:v1             only a character device null.o (1:3)
 *   hostile/oversize:v1           oversize.bpf.o of 65 MiB zeros (the blob is small)
 *   hostile/notgzip:v1            media type tar+gzip, bytes a plain tar
 *   hostile/twofiles:v1           xdp-counter.bpf.o and second.bpf.o
 *   bench/big:v1                  big.bpf.o: the ELF + 1 MiB of random bytes (~1 MiB compressed) */
bool registry_fixture_publish_test_images(RegistryFixture *r);

/* The names above ("repo:tag"), NULL-terminated. */
const char *const *registry_fixture_test_images(void);
/* The exact manifest (or index) bytes published for one of them, or NULL. */
char *registry_fixture_test_manifest(const char *image);

/* Writes bpfman/xdp-counter:v1 as an OCI image layout in dir (created if
 * needed): oci-layout, index.json naming it org.opencontainers.image.ref.name
 * = tag, blobs/sha256/. For tests of oci:<dir>:<tag> sources. */
bool registry_fixture_write_oci_layout(const char *dir, const char *tag);
