/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Debian's docker-registry on loopback for tests: the processes, TLS and
 * credentials, a push client on libcurl, and the standard test images. */
#include <archive.h>
#include <archive_entry.h>
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"
#include "registry-fixture.h"

#define OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define OCI_LAYER "application/vnd.oci.image.layer.v1.tar+gzip"
#define DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define DOCKER_LAYER "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define BUMBLEBEE_CONFIG "application/ebpf.oci.image.config.v1+json"
#define BUMBLEBEE_PROGRAM "application/ebpf.oci.image.program.v1+binary"

#define TEST_USER "bpfhub-test"
#define TOKEN_SERVICE "bpfhub-test-registry"
#define TOKEN_ISSUER "bpfhub-test-issuer"
#define TOKEN_SERVER "tests/bpfhub-test-token-server"
#define START_TIMEOUT_US (15 * G_USEC_PER_SEC)

static const char *const mode_names[] = { "plain", "tls-basic", "tls-token" };

/* Failures print every message (g_test_fail_printf keeps only the last). */
static void G_GNUC_PRINTF(1, 2) fail(const char *fmt, ...) {
        g_autofree char *message = NULL;
        va_list ap;

        va_start(ap, fmt);
        message = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        g_printerr("# %s\n", message);
        g_test_fail_printf("%s", message);
}

static char *read_text(const char *path) {
        char *text = NULL;

        if (!path || !g_file_get_contents(path, &text, NULL, NULL))
                return g_strdup("");
        return text;
}

/* The last lines of a log, each a TAP comment. */
static void print_log_tail(const char *title, const char *path) {
        const guint max_lines = 150;
        g_autofree char *text = read_text(path), *commented = NULL;
        g_auto(GStrv) lines = g_strsplit(g_strchomp(text), "\n", -1);
        guint n = g_strv_length(lines), first = n > max_lines ? n - max_lines : 0;

        commented = g_strjoinv("\n#   ", lines + first);
        g_printerr("# %s (%s)%s:\n#   %s\n", title, path, first ? ", its last lines" : "", commented);
}

/* ---- Processes ---------------------------------------------------------- */

static bool pid_alive(pid_t pid) {
        return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

/* The pid in ".../bpfhub-test-<pid>-..." inside s, or 0. */
static pid_t owner_of(const char *s) {
        const char *p = strstr(s, "/bpfhub-test-");

        return p ? (pid_t) g_ascii_strtoll(p + strlen("/bpfhub-test-"), NULL, 10) : 0;
}

/* Registries and token servers of a test process that died without
 * cleaning up (they normally die with it through PR_SET_PDEATHSIG): found
 * by their command lines, which name the dead process's scratch dir. */
static void kill_stale_children(void) {
        static bool done;
        g_autoptr(GDir) proc = NULL;
        const char *name;

        if (done)
                return;
        done = true;
        proc = g_dir_open("/proc", 0, NULL);
        while (proc && (name = g_dir_read_name(proc))) {
                g_autofree char *path = g_build_filename("/proc", name, "cmdline", NULL), *cmdline = NULL, *base = NULL;
                pid_t pid = (pid_t) g_ascii_strtoll(name, NULL, 10);
                gsize len;

                if (pid <= 0 || !g_file_get_contents(path, &cmdline, &len, NULL) || len == 0)
                        continue;
                base = g_path_get_basename(cmdline);
                if (!g_str_equal(base, "docker-registry") && !g_str_equal(base, "bpfhub-test-token-server"))
                        continue;
                for (gsize off = 0; off < len; off += strlen(cmdline + off) + 1) {
                        pid_t owner = owner_of(cmdline + off);
                        if (owner > 0 && owner != getpid() && !pid_alive(owner)) {
                                g_printerr("# killing %s (pid %d), left behind by dead test process %d\n", base, (int) pid,
                                           (int) owner);
                                (void) kill(-pid, SIGKILL);
                                (void) kill(pid, SIGKILL);
                                break;
                        }
                }
        }
}

/* The environment for a child: ours without REGISTRY_* overrides, with
 * sanitizer reports (of the token server in sanitizer builds) sent to dir. */
static char **child_environ(const char *dir) {
        char **env = g_get_environ();
        g_autofree char *asan = g_strdup_printf("detect_leaks=0:abort_on_error=1:log_path=%s/sanitizer", dir);
        g_autofree char *ubsan = g_strdup_printf("print_stacktrace=1:halt_on_error=1:log_path=%s/sanitizer", dir);
        g_autoptr(GStrvBuilder) b = g_strv_builder_new();

        for (char **e = env; *e; e++)
                if (!g_str_has_prefix(*e, "REGISTRY_"))
                        g_strv_builder_add(b, *e);
        g_strfreev(env);
        env = g_strv_builder_end(b);
        env = g_environ_setenv(env, "ASAN_OPTIONS", asan, TRUE);
        return g_environ_setenv(env, "UBSAN_OPTIONS", ubsan, TRUE);
}

/* Starts argv[0] (a path) in its own process group, killed when this
 * process dies; stderr (and stdout unless stdout_fd >= 0) appended to
 * log_path. Returns the pid, or 0 after fail(). */
static pid_t spawn(char **argv, const char *dir, const char *log_path, int stdout_fd) {
        g_auto(GStrv) env = child_environ(dir);
        pid_t parent = getpid(), pid;
        int log_fd, null_fd;

        log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (log_fd < 0 || null_fd < 0) {
                fail("cannot open %s: %s", log_path, g_strerror(errno));
                return 0;
        }
        pid = fork();
        if (pid == 0) {
                (void) setpgid(0, 0);
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent)
                        _exit(127);
                (void) dup2(null_fd, STDIN_FILENO);
                (void) dup2(stdout_fd >= 0 ? stdout_fd : log_fd, STDOUT_FILENO);
                (void) dup2(log_fd, STDERR_FILENO);
                execve(argv[0], argv, env);
                _exit(127);
        }
        (void) close(log_fd);
        (void) close(null_fd);
        if (pid < 0) {
                fail("fork: %s", g_strerror(errno));
                return 0;
        }
        /* Also here, so that kill(-pid) cannot race the child's own setpgid. */
        (void) setpgid(pid, pid);
        return pid;
}

static void write_pid_file(const char *dir, const char *name, pid_t pid) {
        g_autofree char *path = g_build_filename(dir, name, NULL), *text = g_strdup_printf("%d\n", (int) pid);

        (void) g_file_set_contents(path, text, -1, NULL);
}

/* Kills the process group of *pid, reaps the leader, removes its pid file. */
static void stop_process(pid_t *pid, const char *dir, const char *pid_file) {
        g_autofree char *path = NULL;

        if (*pid <= 0)
                return;
        (void) kill(-*pid, SIGKILL);
        (void) kill(*pid, SIGKILL);
        while (waitpid(*pid, NULL, 0) < 0 && errno == EINTR)
                ;
        *pid = 0;
        path = g_build_filename(dir, pid_file, NULL);
        (void) unlink(path);
}

/* ---- TLS and credentials ------------------------------------------------ */

/* A CA and the registry's certificate signed by it (P-256: quick to make). */
static bool make_tls(RegistryFixture *r) {
        if (fixture_run(NULL,
                        "cd '%s' && "
                        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
                        "-keyout ca.key -out ca.crt -subj '/CN=bpfhub test CA' "
                        "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign && "
                        "openssl req -x509 -CA ca.crt -CAkey ca.key -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
                        "-keyout registry.key -out registry.crt -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 "
                        "-addext basicConstraints=critical,CA:FALSE -addext keyUsage=critical,digitalSignature "
                        "-addext extendedKeyUsage=serverAuth",
                        r->dir) != 0) {
                fail("openssl could not make the registry's CA and certificate in %s (its output is above)", r->dir);
                return false;
        }
        r->ca_path = g_build_filename(r->dir, "ca.crt", NULL);
        return true;
}

static bool make_credentials(RegistryFixture *r) {
        r->username = g_strdup(TEST_USER);
        r->password = g_strdup_printf("%08x%08x%08x", g_random_int(), g_random_int(), g_random_int());
        if (r->mode == REGISTRY_TLS_BASIC &&
            fixture_run(NULL, "htpasswd -Bbn '%s' '%s' > '%s/htpasswd'", r->username, r->password, r->dir) != 0) {
                fail("htpasswd could not write %s/htpasswd (its output is above)", r->dir);
                return false;
        }
        return true;
}

/* The token signing key (RSA, for RS256) and its self-signed certificate,
 * the registry's rootcertbundle. Made once per process: RSA is slow. */
static bool write_token_key(RegistryFixture *r) {
        static char *key_pem, *cert_pem;
        g_autofree char *key = g_build_filename(r->dir, "token.key", NULL);
        g_autofree char *cert = g_build_filename(r->dir, "token.crt", NULL);

        if (!key_pem) {
                if (fixture_run(NULL,
                                "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -keyout '%s' -out '%s' "
                                "-subj '/CN=bpfhub test token issuer' 2>&1",
                                key, cert) != 0 ||
                    !g_file_get_contents(key, &key_pem, NULL, NULL) || !g_file_get_contents(cert, &cert_pem, NULL, NULL)) {
                        g_clear_pointer(&key_pem, g_free);
                        fail("openssl could not make the token signing key in %s (its output is above)", r->dir);
                        return false;
                }
                return true;
        }
        if (g_file_set_contents(key, key_pem, -1, NULL) && g_file_set_contents(cert, cert_pem, -1, NULL))
                return true;
        fail("cannot write %s and %s", key, cert);
        return false;
}

/* ---- The token server --------------------------------------------------- */

/* Reads the "127.0.0.1:<port>" line the token server prints when it listens. */
static char *read_ready_line(int fd) {
        char buf[128];
        size_t n = 0;
        gint64 deadline = g_get_monotonic_time() + START_TIMEOUT_US;

        while (n < sizeof buf - 1 && !memchr(buf, '\n', n)) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                gint64 left_ms = (deadline - g_get_monotonic_time()) / 1000;
                ssize_t k;

                if (left_ms <= 0 || poll(&p, 1, (int) left_ms) <= 0)
                        return NULL;
                k = read(fd, buf + n, sizeof buf - 1 - n);
                if (k <= 0)
                        return NULL;
                n += (size_t) k;
                buf[n] = '\0';
        }
        return memchr(buf, '\n', n) ? g_strndup(buf, strcspn(buf, "\n")) : NULL;
}

static bool start_token_server(RegistryFixture *r) {
        g_autofree char *server = fixture_build_path(TOKEN_SERVER);
        g_autofree char *key = g_build_filename(r->dir, "token.key", NULL);
        g_autofree char *cert = g_build_filename(r->dir, "token.crt", NULL);
        g_autofree char *log = g_build_filename(r->dir, "token-server.log", NULL);
        char *argv[] = { server, (char *) "--port=0", (char *) "--user", r->username, (char *) "--password", r->password,
                         (char *) "--key", key, (char *) "--cert", cert, (char *) "--issuer", (char *) TOKEN_ISSUER, NULL };
        int fds[2];

        if (!g_file_test(server, G_FILE_TEST_IS_EXECUTABLE)) {
                fail("%s is not built (the test must depend on it)", server);
                return false;
        }
        if (!write_token_key(r))
                return false;
        if (pipe2(fds, O_CLOEXEC) < 0) {
                fail("pipe: %s", g_strerror(errno));
                return false;
        }
        r->token_pid = spawn(argv, r->dir, log, fds[1]);
        (void) close(fds[1]);
        if (r->token_pid > 0)
                r->token_host = read_ready_line(fds[0]);
        (void) close(fds[0]);
        if (r->token_pid <= 0)
                return false;
        write_pid_file(r->dir, "token-server.pid", r->token_pid);
        if (!r->token_host || !g_str_has_prefix(r->token_host, "127.0.0.1:")) {
                fail("the token server did not start (log: %s)", log);
                return false;
        }
        return true;
}

/* ---- The registry ------------------------------------------------------- */

static uint16_t free_port(void) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof a;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        uint16_t port = 0;

        if (fd >= 0 && bind(fd, (struct sockaddr *) &a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *) &a, &len) == 0)
                port = ntohs(a.sin_port);
        if (fd >= 0)
                (void) close(fd);
        return port;
}

static const char *scheme(const RegistryFixture *r) {
        return r->mode == REGISTRY_PLAIN ? "http" : "https";
}

static bool write_registry_config(RegistryFixture *r) {
        g_autofree char *path = g_build_filename(r->dir, "config.yml", NULL);
        g_autofree char *tls = NULL, *auth = NULL, *text = NULL;

        if (r->mode != REGISTRY_PLAIN)
                tls = g_strdup_printf("  tls:\n    certificate: \"%s/registry.crt\"\n    key: \"%s/registry.key\"\n", r->dir, r->dir);
        if (r->mode == REGISTRY_TLS_BASIC)
                auth = g_strdup_printf("auth:\n  htpasswd:\n    realm: bpfhub-test\n    path: \"%s/htpasswd\"\n", r->dir);
        else if (r->mode == REGISTRY_TLS_TOKEN)
                auth = g_strdup_printf("auth:\n  token:\n    realm: \"http://%s/token\"\n    service: " TOKEN_SERVICE "\n"
                                       "    issuer: " TOKEN_ISSUER "\n    rootcertbundle: \"%s/token.crt\"\n",
                                       r->token_host, r->dir);
        text = g_strdup_printf("version: 0.1\n"
                               "log:\n  level: info\n  formatter: text\n  accesslog:\n    disabled: false\n"
                               "storage:\n  filesystem:\n    rootdirectory: \"%s\"\n  delete:\n    enabled: true\n"
                               "  maintenance:\n    uploadpurging:\n      enabled: false\n"
                               "http:\n  addr: %s\n  secret: bpfhub-test-%08x\n%s"
                               "health:\n  storagedriver:\n    enabled: false\n"
                               "%s",
                               r->storage, r->host, g_random_int(), tls ? tls : "", auth ? auth : "");
        if (!g_file_set_contents(path, text, -1, NULL)) {
                fail("cannot write %s", path);
                return false;
        }
        return true;
}

/* Any HTTP answer from /v2/ (200, or 401 with auth) means it is serving. */
static bool answers(RegistryFixture *r) {
        g_autofree char *url = g_strdup_printf("%s://%s/v2/", scheme(r), r->host);
        CURL *c = curl_easy_init();
        long status = 0;

        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_PROXY, "");
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 2000L);
        if (r->ca_path)
                curl_easy_setopt(c, CURLOPT_CAINFO, r->ca_path);
        if (curl_easy_perform(c) == CURLE_OK)
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(c);
        return status > 0;
}

typedef enum Started { STARTED, PORT_TAKEN, FAILED } Started;

/* Runs docker-registry with the config as written and waits until it answers. */
static Started run_registry(RegistryFixture *r) {
        g_autofree char *program = g_find_program_in_path("docker-registry");
        g_autofree char *config = g_build_filename(r->dir, "config.yml", NULL);
        char *argv[] = { program, (char *) "serve", config, NULL };
        gint64 deadline = g_get_monotonic_time() + START_TIMEOUT_US;
        off_t log_start = 0;
        struct stat st;

        if (stat(r->log_path, &st) == 0)
                log_start = st.st_size;
        r->registry_pid = spawn(argv, r->dir, r->log_path, -1);
        if (r->registry_pid <= 0)
                return FAILED;
        write_pid_file(r->dir, "registry.pid", r->registry_pid);
        while (g_get_monotonic_time() < deadline) {
                int status;

                if (waitpid(r->registry_pid, &status, WNOHANG) == r->registry_pid) {
                        g_autofree char *log = read_text(r->log_path);
                        r->registry_pid = 0;
                        if ((size_t) log_start <= strlen(log) && strstr(log + log_start, "address already in use"))
                                return PORT_TAKEN;
                        fail("docker-registry exited with status %d at start (log: %s)", status, r->log_path);
                        return FAILED;
                }
                if (answers(r))
                        return STARTED;
                g_usleep(20000);
        }
        fail("docker-registry did not answer on %s within %d s (log: %s)", r->host, (int) (START_TIMEOUT_US / G_USEC_PER_SEC),
             r->log_path);
        return FAILED;
}

/* Picks a free port; another process may take it before the registry
 * binds it, so a few tries. */
static bool start_registry(RegistryFixture *r) {
        for (int attempt = 0; attempt < 5; attempt++) {
                g_free(r->host);
                r->host = g_strdup_printf("127.0.0.1:%u", free_port());
                if (!write_registry_config(r))
                        return false;
                switch (run_registry(r)) {
                case STARTED:
                        return true;
                case FAILED:
                        return false;
                case PORT_TAKEN:
                        g_printerr("# port of %s was taken, trying another\n", r->host);
                        break;
                }
        }
        fail("docker-registry found no free port in 5 tries (log: %s)", r->log_path);
        return false;
}

/* <scratch>/registry-<mode>, or with -2, -3... when a fixture of the same
 * mode already ran in this scratch dir. */
static char *fresh_dir(const char *scratch, RegistryMode mode) {
        char *dir = g_strdup_printf("%s/registry-%s", scratch, mode_names[mode]);

        for (int i = 2; g_file_test(dir, G_FILE_TEST_EXISTS); i++) {
                g_free(dir);
                dir = g_strdup_printf("%s/registry-%s-%d", scratch, mode_names[mode], i);
        }
        return dir;
}

static void global_init(void) {
        static bool done;

        if (!done)
                (void) curl_global_init(CURL_GLOBAL_DEFAULT);
        done = true;
}

bool registry_fixture_start(RegistryFixture *r, const char *scratch, RegistryMode mode) {
        *r = (RegistryFixture) { .mode = mode };
        if (!fixture_require_program("docker-registry"))
                return false;
        if (mode != REGISTRY_PLAIN && !fixture_require_program("openssl"))
                return false;
        if (mode == REGISTRY_TLS_BASIC && !fixture_require_program("htpasswd"))
                return false;
        global_init();
        kill_stale_children();

        r->dir = fresh_dir(scratch, mode);
        r->storage = g_build_filename(r->dir, "storage", NULL);
        r->log_path = g_build_filename(r->dir, "registry.log", NULL);
        if (g_mkdir_with_parents(r->storage, 0755) < 0) {
                fail("cannot create %s: %s", r->storage, g_strerror(errno));
                registry_fixture_stop(r);
                return false;
        }
        if ((mode != REGISTRY_PLAIN && (!make_tls(r) || !make_credentials(r))) ||
            (mode == REGISTRY_TLS_TOKEN && !start_token_server(r)) || !start_registry(r)) {
                registry_fixture_stop(r);
                return false;
        }
        return true;
}

void registry_fixture_stop(RegistryFixture *r) {
        g_autofree char *token_log = r->dir ? g_build_filename(r->dir, "token-server.log", NULL) : NULL;

        stop_process(&r->registry_pid, r->dir, "registry.pid");
        stop_process(&r->token_pid, r->dir, "token-server.pid");
        if (r->dir && !fixture_check_sanitizer_reports(r->dir))
                fail("AddressSanitizer/UndefinedBehaviorSanitizer reported errors in the token server");
        if (g_test_failed() && r->log_path) {
                print_log_tail("registry log", r->log_path);
                if (r->mode == REGISTRY_TLS_TOKEN)
                        print_log_tail("token server log", token_log);
        }
        g_free(r->dir);
        g_free(r->host);
        g_free(r->storage);
        g_free(r->ca_path);
        g_free(r->username);
        g_free(r->password);
        g_free(r->token_host);
        g_free(r->log_path);
        *r = (RegistryFixture) {};
}

bool registry_fixture_pause(RegistryFixture *r) {
        if (r->registry_pid <= 0) {
                fail("registry_fixture_pause: the registry is not running");
                return false;
        }
        stop_process(&r->registry_pid, r->dir, "registry.pid");
        return true;
}

bool registry_fixture_resume(RegistryFixture *r) {
        if (r->registry_pid > 0 || !r->host) {
                fail("registry_fixture_resume: the registry is %s", r->host ? "running" : "not set up");
                return false;
        }
        switch (run_registry(r)) {
        case STARTED:
                return true;
        case PORT_TAKEN:
                fail("registry_fixture_resume: another process took %s meanwhile", r->host);
                return false;
        case FAILED:
        default:
                return false;
        }
}

char *registry_fixture_blob_path(RegistryFixture *r, const char *digest) {
        const char *hex = g_str_has_prefix(digest, "sha256:") ? digest + strlen("sha256:") : digest;

        return g_strdup_printf("%s/docker/registry/v2/blobs/sha256/%.2s/%s/data", r->storage, hex, hex);
}

/* ---- The push client ---------------------------------------------------- */

typedef struct Response {
        long status;
        GPtrArray *headers;     /* "name: value", of the last response */
        GString *body;
} Response;

static void response_clear(Response *resp) {
        g_clear_pointer(&resp->headers, g_ptr_array_unref);
        if (resp->body)
                g_string_free(resp->body, TRUE);
        *resp = (Response) {};
}

/* A header's value (names compare without case: HTTP/2 sends lower case). */
static const char *response_header(const Response *resp, const char *name) {
        size_t n = strlen(name);

        for (guint i = 0; resp->headers && i < resp->headers->len; i++) {
                const char *line = resp->headers->pdata[i];
                if (g_ascii_strncasecmp(line, name, n) == 0 && line[n] == ':')
                        return line + n + 1 + strspn(line + n + 1, " \t");
        }
        return NULL;
}

static size_t on_header(char *data, size_t size, size_t count, void *userdata) {
        Response *resp = userdata;
        size_t n = size * count;
        g_autofree char *line = g_strndup(data, n);

        g_strchomp(line);
        /* A new status line (after 100 Continue or a redirect) starts over. */
        if (g_str_has_prefix(line, "HTTP/"))
                g_ptr_array_set_size(resp->headers, 0);
        else if (*line)
                g_ptr_array_add(resp->headers, g_steal_pointer(&line));
        return n;
}

static size_t on_body(char *data, size_t size, size_t count, void *userdata) {
        Response *resp = userdata;

        g_string_append_len(resp->body, data, (gssize) (size * count));
        return size * count;
}

/* One connection's worth of pushing; several run at once in threads, so
 * errors are collected here and reported by the calling thread. */
typedef struct Client {
        RegistryFixture *r;
        CURL *curl;
        GHashTable *tokens;     /* repository → bearer token */
        GString *errors;        /* NULL while all went well */
} Client;

static void G_GNUC_PRINTF(2, 3) client_fail(Client *c, const char *fmt, ...) {
        va_list ap;

        if (!c->errors)
                c->errors = g_string_new(NULL);
        else
                g_string_append(c->errors, "; ");
        va_start(ap, fmt);
        g_string_append_vprintf(c->errors, fmt, ap);
        va_end(ap);
}

/* Reports the client's errors in this thread (a test's main thread). */
static void client_report(Client *c) {
        if (c->errors)
                fail("%s", c->errors->str);
}

static Client *client_new(RegistryFixture *r) {
        Client *c = g_new0(Client, 1);

        global_init();
        c->r = r;
        c->curl = curl_easy_init();
        c->tokens = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        return c;
}

static void client_free(Client *c) {
        curl_easy_cleanup(c->curl);
        g_hash_table_unref(c->tokens);
        if (c->errors)
                g_string_free(c->errors, TRUE);
        g_free(c);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(Client, client_free)

typedef struct Request {
        const char *method, *url, *content_type;
        const void *body;
        size_t size;
        const char *bearer;     /* else basic credentials where the mode has them */
        bool basic;
} Request;

/* One HTTP exchange; false (after client_fail()) only when no answer came. */
static bool perform(Client *c, const Request *q, Response *resp) {
        char error[CURL_ERROR_SIZE] = "";
        struct curl_slist *headers = curl_slist_append(NULL, "Expect:");
        CURLcode code;

        response_clear(resp);
        resp->headers = g_ptr_array_new_with_free_func(g_free);
        resp->body = g_string_new(NULL);

        curl_easy_reset(c->curl);
        curl_easy_setopt(c->curl, CURLOPT_URL, q->url);
        curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c->curl, CURLOPT_PROXY, "");
        curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, 60L);
        curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, error);
        curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, resp);
        curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, resp);
        if (c->r->ca_path)
                curl_easy_setopt(c->curl, CURLOPT_CAINFO, c->r->ca_path);
        if (!g_str_equal(q->method, "GET")) {
                curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, q->method);
                curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, q->body ? q->body : "");
                curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) q->size);
        }
        if (q->content_type) {
                g_autofree char *h = g_strdup_printf("Content-Type: %s", q->content_type);
                headers = curl_slist_append(headers, h);
        } else if (!g_str_equal(q->method, "GET"))
                headers = curl_slist_append(headers, "Content-Type:");   /* not curl's form type */
        if (q->bearer) {
                g_autofree char *h = g_strdup_printf("Authorization: Bearer %s", q->bearer);
                headers = curl_slist_append(headers, h);
        } else if (q->basic && c->r->username) {
                curl_easy_setopt(c->curl, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
                curl_easy_setopt(c->curl, CURLOPT_USERNAME, c->r->username);
                curl_easy_setopt(c->curl, CURLOPT_PASSWORD, c->r->password);
        }
        curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, headers);
        code = curl_easy_perform(c->curl);
        curl_slist_free_all(headers);
        if (code != CURLE_OK) {
                client_fail(c, "%s %s: %s", q->method, q->url, *error ? error : curl_easy_strerror(code));
                return false;
        }
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &resp->status);
        return true;
}

typedef struct Challenge {
        char *realm, *service, *scope;
} Challenge;

static void challenge_clear(Challenge *ch) {
        g_free(ch->realm);
        g_free(ch->service);
        g_free(ch->scope);
        *ch = (Challenge) {};
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Challenge, challenge_clear)

static void set_string(char **field, const char *value) {
        g_free(*field);
        *field = g_strdup(value);
}

/* Bearer realm="...",service="...",scope="..." (values quoted or not). */
static bool parse_bearer_challenge(const char *value, Challenge *ch) {
        const char *p;

        if (!value || g_ascii_strncasecmp(value, "Bearer ", 7) != 0)
                return false;
        for (p = value + 7; *p;) {
                g_autofree char *key = NULL;
                g_autoptr(GString) v = g_string_new(NULL);
                const char *start;

                p += strspn(p, " \t,");
                start = p;
                p += strcspn(p, "=");
                if (!*p)
                        break;
                key = g_strstrip(g_strndup(start, (size_t) (p - start)));
                p++;
                if (*p == '"') {
                        for (p++; *p && *p != '"'; p++) {
                                if (*p == '\\' && p[1])
                                        p++;
                                g_string_append_c(v, *p);
                        }
                        if (*p == '"')
                                p++;
                } else {
                        start = p;
                        p += strcspn(p, ",");
                        g_string_append_len(v, start, p - start);
                }
                if (g_ascii_strcasecmp(key, "realm") == 0)
                        set_string(&ch->realm, v->str);
                else if (g_ascii_strcasecmp(key, "service") == 0)
                        set_string(&ch->service, v->str);
                else if (g_ascii_strcasecmp(key, "scope") == 0)
                        set_string(&ch->scope, v->str);
        }
        return ch->realm != NULL;
}

static char *escape(Client *c, const char *s) {
        char *e = curl_easy_escape(c->curl, s, 0);
        char *copy = g_strdup(e);

        curl_free(e);
        return copy;
}

/* Answers a Bearer challenge: a pull,push token for repo from the realm,
 * asked for with the basic credentials. */
static bool fetch_token(Client *c, const char *repo, const char *www_authenticate) {
        g_auto(Challenge) ch = {};
        g_autofree char *own_scope = g_strdup_printf("repository:%s:pull,push", repo);
        g_autofree char *own_prefix = g_strdup_printf("repository:%s:", repo);
        g_autofree char *service = NULL, *scope = NULL, *url = NULL;
        Response resp = {};
        Request q = { .method = "GET", .basic = true };
        json_object *j = NULL, *token = NULL;
        bool ok = false;

        if (!parse_bearer_challenge(www_authenticate, &ch)) {
                client_fail(c, "the registry's 401 has no Bearer challenge (WWW-Authenticate: %s)",
                            www_authenticate ? www_authenticate : "none");
                return false;
        }
        service = escape(c, ch.service ? ch.service : "");
        scope = escape(c, own_scope);
        url = g_strdup_printf("%s%cservice=%s&scope=%s", ch.realm, strchr(ch.realm, '?') ? '&' : '?', service, scope);
        /* A challenge for another resource (a cross-repository mount) is asked for too. */
        if (ch.scope && !g_str_has_prefix(ch.scope, own_prefix)) {
                g_autofree char *extra = escape(c, ch.scope), *with = g_strdup_printf("%s&scope=%s", url, extra);
                g_free(url);
                url = g_steal_pointer(&with);
        }
        q.url = url;
        if (!perform(c, &q, &resp))
                return false;
        if (resp.status == 200)
                j = json_tokener_parse(resp.body->str);
        if (j && (json_object_object_get_ex(j, "token", &token) || json_object_object_get_ex(j, "access_token", &token)) &&
            json_object_is_type(token, json_type_string)) {
                g_hash_table_replace(c->tokens, g_strdup(repo), g_strdup(json_object_get_string(token)));
                ok = true;
        } else {
                g_autofree char *body = g_strchomp(g_strdup(resp.body->str));
                client_fail(c, "token request GET %s answered %ld: %s", url, resp.status, body);
        }
        json_object_put(j);
        response_clear(&resp);
        return ok;
}

/* A request to the registry for repo with the mode's authentication: basic
 * credentials, or a bearer token got when the registry challenges. */
static bool registry_request(Client *c, const char *repo, Request *q, Response *resp) {
        q->basic = c->r->mode == REGISTRY_TLS_BASIC;
        for (int attempt = 0;; attempt++) {
                q->bearer = g_hash_table_lookup(c->tokens, repo);
                if (!perform(c, q, resp))
                        return false;
                if (resp->status != 401 || c->r->mode != REGISTRY_TLS_TOKEN || attempt > 0)
                        return true;
                if (!fetch_token(c, repo, response_header(resp, "WWW-Authenticate")))
                        return false;
        }
}

static bool expect_status(Client *c, const Request *q, const Response *resp, long status) {
        g_autofree char *body = NULL;

        if (resp->status == status)
                return true;
        body = g_strchomp(g_strdup(resp->body->str));
        client_fail(c, "%s %s answered %ld, expected %ld: %s", q->method, q->url, resp->status, status, body);
        return false;
}

/* The upload URL from a Location header: absolute, or a path on the registry. */
static char *upload_url(Client *c, const char *location) {
        if (g_str_has_prefix(location, "http://") || g_str_has_prefix(location, "https://"))
                return g_strdup(location);
        if (location[0] == '/')
                return g_strdup_printf("%s://%s%s", scheme(c->r), c->r->host, location);
        return NULL;
}

static bool digest_header_matches(Client *c, const Request *q, const Response *resp, const char *digest) {
        const char *got = response_header(resp, "Docker-Content-Digest");

        if (!got || g_str_equal(got, digest))
                return true;
        client_fail(c, "%s %s: the registry says the digest is %s, we computed %s", q->method, q->url, got, digest);
        return false;
}

static char *sha256_digest(const void *data, size_t size) {
        g_autofree char *hex = g_compute_checksum_for_data(G_CHECKSUM_SHA256, data, size);

        return g_strdup_printf("sha256:%s", hex);
}

/* POST /v2/<repo>/blobs/uploads/, then PUT <Location>&digest=... */
static char *push_blob(Client *c, const char *repo, const void *data, size_t size) {
        g_autofree char *digest = sha256_digest(data, size), *post_url = NULL, *put_url = NULL, *location = NULL;
        g_autofree char *escaped = NULL;
        Request q = { .method = "POST" };
        Response resp = {};
        bool ok;

        post_url = g_strdup_printf("%s://%s/v2/%s/blobs/uploads/", scheme(c->r), c->r->host, repo);
        q.url = post_url;
        ok = registry_request(c, repo, &q, &resp) && expect_status(c, &q, &resp, 202);
        if (ok) {
                const char *l = response_header(&resp, "Location");
                location = l ? upload_url(c, l) : NULL;
                if (!location) {
                        client_fail(c, "POST %s: 202 without a usable Location (%s)", post_url, l ? l : "none");
                        ok = false;
                }
        }
        if (ok) {
                escaped = escape(c, digest);
                put_url = g_strdup_printf("%s%cdigest=%s", location, strchr(location, '?') ? '&' : '?', escaped);
                q = (Request) { .method = "PUT", .url = put_url, .content_type = "application/octet-stream", .body = data,
                                .size = size };
                ok = registry_request(c, repo, &q, &resp) && expect_status(c, &q, &resp, 201) &&
                     digest_header_matches(c, &q, &resp, digest);
        }
        response_clear(&resp);
        return ok ? g_steal_pointer(&digest) : NULL;
}

static char *push_manifest(Client *c, const char *repo, const char *reference, const char *media_type, const char *json) {
        g_autofree char *digest = sha256_digest(json, strlen(json));
        g_autofree char *url = g_strdup_printf("%s://%s/v2/%s/manifests/%s", scheme(c->r), c->r->host, repo, reference);
        Request q = { .method = "PUT", .url = url, .content_type = media_type, .body = json, .size = strlen(json) };
        Response resp = {};
        bool ok;

        ok = registry_request(c, repo, &q, &resp) && expect_status(c, &q, &resp, 201) && digest_header_matches(c, &q, &resp, digest);
        response_clear(&resp);
        return ok ? g_steal_pointer(&digest) : NULL;
}

char *registry_push_blob(RegistryFixture *r, const char *repo, const void *data, size_t size) {
        g_autoptr(Client) c = client_new(r);
        char *digest = push_blob(c, repo, data, size);

        client_report(c);
        return digest;
}

char *registry_push_manifest(RegistryFixture *r, const char *repo, const char *reference, const char *media_type,
                             const char *json) {
        g_autoptr(Client) c = client_new(r);
        char *digest = push_manifest(c, repo, reference, media_type, json);

        client_report(c);
        return digest;
}

/* ---- Layers ------------------------------------------------------------- */

typedef struct TarEntry {
        const char *name;
        unsigned type;          /* AE_IFREG, AE_IFLNK or AE_IFCHR */
        const void *data;       /* NULL: size zero bytes */
        size_t size;
        const char *link;       /* of a symlink */
} TarEntry;

typedef struct Layer {
        GBytes *blob;
        char *diff_id;          /* sha256 of the uncompressed tar */
} Layer;

static void layer_clear(Layer *l) {
        g_clear_pointer(&l->blob, g_bytes_unref);
        g_clear_pointer(&l->diff_id, g_free);
}

/* Where libarchive's output goes: hashed as a tar, gzipped (unless plain)
 * into out. Streaming, so 65 MiB of zeros never sit in memory. */
typedef struct TarSink {
        GChecksum *tar_sum;
        GConverter *gzip;
        GByteArray *out;
        bool failed;
} TarSink;

static bool gzip_feed(TarSink *s, const void *in, size_t n, bool end) {
        guint8 buf[65536];

        for (;;) {
                g_autoptr(GError) error = NULL;
                gsize nread = 0, nwritten = 0;
                GConverterResult res = g_converter_convert(s->gzip, in, n, buf, sizeof buf,
                                                           end ? G_CONVERTER_INPUT_AT_END : G_CONVERTER_NO_FLAGS, &nread,
                                                           &nwritten, &error);

                if (res == G_CONVERTER_ERROR) {
                        fail("gzip: %s", error->message);
                        return false;
                }
                g_byte_array_append(s->out, buf, (guint) nwritten);
                in = (const guint8 *) in + nread;
                n -= nread;
                if (res == G_CONVERTER_FINISHED || (!end && n == 0))
                        return true;
        }
}

static la_ssize_t tar_sink_write(struct archive *a, void *userdata, const void *buf, size_t n) {
        TarSink *s = userdata;

        g_checksum_update(s->tar_sum, buf, (gssize) n);
        if (!s->gzip)
                g_byte_array_append(s->out, buf, (guint) n);
        else if (!gzip_feed(s, buf, n, false)) {
                s->failed = true;
                return -1;
        }
        return (la_ssize_t) n;
}

static bool tar_write_entry(struct archive *a, const TarEntry *e) {
        static const char zeros[65536];
        struct archive_entry *entry = archive_entry_new();
        bool ok;

        archive_entry_set_pathname(entry, e->name);
        archive_entry_set_filetype(entry, e->type);
        archive_entry_set_perm(entry, e->type == AE_IFLNK ? 0777 : 0644);
        archive_entry_set_uid(entry, 0);
        archive_entry_set_gid(entry, 0);
        archive_entry_set_uname(entry, "root");
        archive_entry_set_gname(entry, "root");
        archive_entry_set_mtime(entry, 1700000000, 0);     /* fixed: the same bytes every run */
        archive_entry_set_size(entry, e->type == AE_IFREG ? (la_int64_t) e->size : 0);
        if (e->type == AE_IFLNK)
                archive_entry_set_symlink(entry, e->link);
        if (e->type == AE_IFCHR) {
                archive_entry_set_rdevmajor(entry, 1);
                archive_entry_set_rdevminor(entry, 3);
        }
        ok = archive_write_header(a, entry) >= ARCHIVE_WARN;
        for (size_t off = 0; ok && e->type == AE_IFREG && off < e->size;) {
                size_t chunk = MIN(sizeof zeros, e->size - off);
                la_ssize_t k = archive_write_data(a, e->data ? (const char *) e->data + off : zeros, chunk);
                ok = k > 0;
                off += ok ? (size_t) k : 0;
        }
        if (!ok)
                fail("libarchive: writing %s: %s", e->name, archive_error_string(a));
        archive_entry_free(entry);
        return ok;
}

/* A tar of the entries, gzipped unless plain. */
static Layer layer_build(const TarEntry *entries, size_t n, bool gzip) {
        TarSink s = { .tar_sum = g_checksum_new(G_CHECKSUM_SHA256), .out = g_byte_array_new() };
        struct archive *a = archive_write_new();
        Layer l = {};
        bool ok;

        if (gzip)
                s.gzip = G_CONVERTER(g_zlib_compressor_new(G_ZLIB_COMPRESSOR_FORMAT_GZIP, -1));
        ok = archive_write_set_format_pax_restricted(a) == ARCHIVE_OK && archive_write_set_bytes_in_last_block(a, 1) == ARCHIVE_OK &&
             archive_write_open(a, &s, NULL, tar_sink_write, NULL) == ARCHIVE_OK;
        for (size_t i = 0; ok && i < n; i++)
                ok = tar_write_entry(a, &entries[i]);
        ok = archive_write_close(a) == ARCHIVE_OK && ok && !s.failed;
        if (ok && gzip)
                ok = gzip_feed(&s, NULL, 0, true);
        if (!ok)
                fail("could not build a test layer: %s", archive_error_string(a) ? archive_error_string(a) : "see above");
        archive_write_free(a);
        l.diff_id = g_strdup_printf("sha256:%s", g_checksum_get_string(s.tar_sum));
        l.blob = g_byte_array_free_to_bytes(s.out);
        g_checksum_free(s.tar_sum);
        g_clear_object(&s.gzip);
        if (!ok)
                layer_clear(&l);
        return l;
}

GBytes *test_layer_targz(const char *name, const void *data, size_t size) {
        TarEntry e = { .name = name, .type = AE_IFREG, .data = data, .size = size };
        Layer l = layer_build(&e, 1, true);

        g_free(l.diff_id);
        return l.blob;
}

/* ---- Images ------------------------------------------------------------- */

typedef struct Image Image;
struct Image {
        char *name;             /* "repo:tag"; NULL for a child of an index */
        char *media_type;
        char *manifest;         /* the exact bytes pushed */
        char *digest;
        GPtrArray *blobs;       /* GBytes, pushed before the manifest */
        GPtrArray *children;    /* Image, pushed by digest before the index */
};

static void image_free(Image *img) {
        if (!img)
                return;
        g_free(img->name);
        g_free(img->media_type);
        g_free(img->manifest);
        g_free(img->digest);
        g_ptr_array_unref(img->blobs);
        g_ptr_array_unref(img->children);
        g_free(img);
}

static Image *image_new(const char *name, const char *media_type) {
        Image *img = g_new0(Image, 1);

        img->name = g_strdup(name);
        img->media_type = g_strdup(media_type);
        img->blobs = g_ptr_array_new_with_free_func((GDestroyNotify) g_bytes_unref);
        img->children = g_ptr_array_new_with_free_func((GDestroyNotify) image_free);
        return img;
}

/* Serializes and consumes j: compact, '/' not escaped. */
static char *json_take_text(json_object *j) {
        char *text = g_strdup(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));

        json_object_put(j);
        return text;
}

static GBytes *bytes_take_text(char *text) {
        return g_bytes_new_take(text, strlen(text));
}

static void image_set_manifest(Image *img, json_object *manifest) {
        img->manifest = json_take_text(manifest);
        img->digest = sha256_digest(img->manifest, strlen(img->manifest));
}

/* Adds a blob to push with the image and returns its descriptor. */
static json_object *image_add_blob(Image *img, const char *media_type, GBytes *data, json_object *annotations) {
        g_autofree char *digest = sha256_digest(g_bytes_get_data(data, NULL), g_bytes_get_size(data));
        json_object *d = json_object_new_object();

        g_ptr_array_add(img->blobs, g_bytes_ref(data));
        json_object_object_add(d, "mediaType", json_object_new_string(media_type));
        json_object_object_add(d, "digest", json_object_new_string(digest));
        json_object_object_add(d, "size", json_object_new_int64((int64_t) g_bytes_get_size(data)));
        if (annotations)
                json_object_object_add(d, "annotations", annotations);
        return d;
}

static json_object *annotation(const char *key, const char *value) {
        json_object *a = json_object_new_object();

        json_object_object_add(a, key, json_object_new_string(value));
        return a;
}

typedef struct Flavor {
        const char *manifest, *config, *layer;
} Flavor;

static const Flavor oci = { OCI_MANIFEST, OCI_CONFIG, OCI_LAYER };
static const Flavor docker = { DOCKER_MANIFEST, DOCKER_CONFIG, DOCKER_LAYER };

static json_object *labels_bpfman(void) {
        g_autofree char *programs = g_strdup_printf("{\"%s\":\"xdp\"}", TEST_IMAGE_FUNCTION);
        g_autofree char *maps = g_strdup_printf("{\"%s\":\"per_cpu_array\"}", TEST_IMAGE_MAP);
        json_object *l = json_object_new_object();

        json_object_object_add(l, "io.ebpf.programs", json_object_new_string(programs));
        json_object_object_add(l, "io.ebpf.maps", json_object_new_string(maps));
        return l;
}

static json_object *labels_legacy(void) {
        json_object *l = json_object_new_object();

        json_object_object_add(l, "io.ebpf.filename", json_object_new_string("xdp-counter.bpf.o"));
        json_object_object_add(l, "io.ebpf.program_name", json_object_new_string(TEST_IMAGE_FUNCTION));
        json_object_object_add(l, "io.ebpf.bpf_function_name", json_object_new_string(TEST_IMAGE_FUNCTION));
        json_object_object_add(l, "io.ebpf.program_type", json_object_new_string("xdp"));
        return l;
}

/* arm64 images carry variant v8, as docker buildx writes them. */
static const char *variant_of(const char *arch) {
        return g_str_equal(arch, "arm64") ? "v8" : NULL;
}

/* An image config as docker and buildah write it, labels in config.Labels. */
static GBytes *image_config(const char *arch, json_object *labels, const char *diff_id) {
        json_object *j = json_object_new_object(), *config = json_object_new_object();
        json_object *rootfs = json_object_new_object(), *diff_ids = json_object_new_array();

        json_object_object_add(j, "architecture", json_object_new_string(arch));
        if (variant_of(arch))
                json_object_object_add(j, "variant", json_object_new_string(variant_of(arch)));
        json_object_object_add(j, "os", json_object_new_string("linux"));
        json_object_object_add(config, "Labels", labels);
        json_object_object_add(j, "config", config);
        json_object_array_add(diff_ids, json_object_new_string(diff_id));
        json_object_object_add(rootfs, "type", json_object_new_string("layers"));
        json_object_object_add(rootfs, "diff_ids", diff_ids);
        json_object_object_add(j, "rootfs", rootfs);
        return bytes_take_text(json_take_text(j));
}

static json_object *descriptor_of(const Image *img) {
        json_object *d = json_object_new_object();

        json_object_object_add(d, "mediaType", json_object_new_string(img->media_type));
        json_object_object_add(d, "digest", json_object_new_string(img->digest));
        json_object_object_add(d, "size", json_object_new_int64((int64_t) strlen(img->manifest)));
        return d;
}

static json_object *manifest_head(const char *media_type) {
        json_object *m = json_object_new_object();

        json_object_object_add(m, "schemaVersion", json_object_new_int(2));
        json_object_object_add(m, "mediaType", json_object_new_string(media_type));
        return m;
}

/* A single-arch image in bpfman's format: an image config with the labels
 * and one layer. Takes labels and the layer; NULL if the layer failed. */
static Image *bpfman_image(const char *name, const Flavor *f, const char *arch, json_object *labels, Layer layer) {
        g_autoptr(GBytes) config = NULL;
        json_object *m, *layers;
        Image *img;

        if (!layer.blob) {
                json_object_put(labels);
                layer_clear(&layer);
                return NULL;
        }
        img = image_new(name, f->manifest);
        config = image_config(arch, labels, layer.diff_id);
        m = manifest_head(f->manifest);
        layers = json_object_new_array();
        json_object_object_add(m, "config", image_add_blob(img, f->config, config, NULL));
        json_object_array_add(layers, image_add_blob(img, f->layer, layer.blob, NULL));
        json_object_object_add(m, "layers", layers);
        image_set_manifest(img, m);
        layer_clear(&layer);
        return img;
}

static Layer object_layer(const char *file_name, GBytes *object) {
        TarEntry e = { .name = file_name, .type = AE_IFREG, .data = g_bytes_get_data(object, NULL),
                       .size = g_bytes_get_size(object) };

        return layer_build(&e, 1, true);
}

/* A bpfman single-arch OCI image of the little-endian (bpfel) or
 * big-endian (bpfeb) object. */
static Image *counter_image(const char *name, const char *arch, GBytes *object, bool big_endian) {
        return bpfman_image(name, &oci, arch, labels_bpfman(),
                            object_layer(big_endian ? "xdp-counter.bpfeb.o" : "xdp-counter.bpf.o", object));
}

typedef struct Platform {
        const char *arch;
        bool big_endian;
} Platform;

/* An OCI index with one bpfman child manifest per platform, as a
 * multi-arch `bpfman image build` pushes it. */
static Image *index_image(const char *name, const Platform *platforms, size_t n, GBytes *el, GBytes *eb) {
        Image *img = image_new(name, OCI_INDEX);
        json_object *m = manifest_head(OCI_INDEX), *manifests = json_object_new_array();

        for (size_t i = 0; i < n; i++) {
                Image *child = counter_image(NULL, platforms[i].arch, platforms[i].big_endian ? eb : el, platforms[i].big_endian);
                json_object *d, *platform;

                if (!child) {
                        json_object_put(m);
                        json_object_put(manifests);
                        image_free(img);
                        return NULL;
                }
                d = descriptor_of(child);
                platform = json_object_new_object();
                json_object_object_add(platform, "architecture", json_object_new_string(platforms[i].arch));
                json_object_object_add(platform, "os", json_object_new_string("linux"));
                if (variant_of(platforms[i].arch))
                        json_object_object_add(platform, "variant", json_object_new_string(variant_of(platforms[i].arch)));
                json_object_object_add(d, "platform", platform);
                json_object_array_add(manifests, d);
                g_ptr_array_add(img->children, child);
        }
        json_object_object_add(m, "manifests", manifests);
        image_set_manifest(img, m);
        return img;
}

/* bumblebee's artifact: config "{}", the raw ELF as the one layer. */
static Image *bumblebee_image(const char *name, GBytes *elf) {
        g_autoptr(GBytes) config = g_bytes_new_static("{}", 2);
        Image *img = image_new(name, OCI_MANIFEST);
        json_object *m = manifest_head(OCI_MANIFEST), *layers = json_object_new_array(), *annotations = json_object_new_object();

        json_object_object_add(m, "config", image_add_blob(img, BUMBLEBEE_CONFIG, config,
                                                           annotation("org.opencontainers.image.title", "config.json")));
        json_object_array_add(layers, image_add_blob(img, BUMBLEBEE_PROGRAM, elf, annotation("org.opencontainers.image.title", "program.o")));
        json_object_object_add(m, "layers", layers);
        json_object_object_add(annotations, "org.opencontainers.image.authors", json_object_new_string("bpfhub tests"));
        json_object_object_add(annotations, "org.opencontainers.image.description",
                               json_object_new_string("Counts the packets an interface receives (XDP)"));
        json_object_object_add(m, "annotations", annotations);
        image_set_manifest(img, m);
        return img;
}

/* A single-arch bpfman image with valid labels and a hostile layer. */
static Image *hostile_image(const char *name, const TarEntry *entries, size_t n, bool gzip) {
        return bpfman_image(name, &oci, "amd64", labels_bpfman(), layer_build(entries, n, gzip));
}

/* The ELF followed by 1 MiB of random bytes: still a valid object, and a
 * layer that stays about 1 MiB when compressed. */
static GBytes *big_object(GBytes *elf) {
        size_t n = g_bytes_get_size(elf), total = n + (1 << 20);
        guint8 *data = g_malloc(total);

        memcpy(data, g_bytes_get_data(elf, NULL), n);
        for (size_t i = n; i < total; i += 4) {
                guint32 v = g_random_int();
                memcpy(data + i, &v, MIN((size_t) 4, total - i));
        }
        return g_bytes_new_take(data, total);
}

static GBytes *read_object(const char *relative) {
        g_autofree char *path = fixture_build_path(relative);
        char *data = NULL;
        gsize size;

        if (!g_file_get_contents(path, &data, &size, NULL)) {
                fail("cannot read %s (is bpf/ built? tests using the registry fixture depend on bpf_object_list)", path);
                return NULL;
        }
        return g_bytes_new_take(data, size);
}

/* In publishing order; registry_fixture_test_images() returns this. */
static const char *const image_names[] = {
        "bpfman/xdp-counter:v1",
        "bpfman/xdp-counter-docker:v1",
        "bpfman/multi:v1",
        "bpfman/noamd64:v1",
        "bpfman/wrong-endian:v1",
        "bpfman/legacy:v1",
        "bumblebee/xdp-counter:v1",
        "hostile/traversal:v1",
        "hostile/absolute:v1",
        "hostile/symlink:v1",
        "hostile/device:v1",
        "hostile/oversize:v1",
        "hostile/notgzip:v1",
        "hostile/twofiles:v1",
        "bench/big:v1",
        NULL
};

static GPtrArray *build_catalog(void) {
        static const Platform all[] = { { "amd64", false }, { "arm64", false }, { "s390x", true } };
        static const Platform no_amd64[] = { { "arm64", false }, { "s390x", true } };
        g_autoptr(GBytes) el = read_object("bpf/xdp-counter.bpf.o"), eb = read_object("bpf/xdp-counter.bpfeb.o");
        g_autoptr(GBytes) big = NULL;
        g_autoptr(GPtrArray) images = g_ptr_array_new_with_free_func((GDestroyNotify) image_free);
        const void *elf;
        size_t size;

        if (!el || !eb)
                return NULL;
        elf = g_bytes_get_data(el, &size);
        big = big_object(el);
        g_ptr_array_add(images, counter_image(image_names[0], "amd64", el, false));
        g_ptr_array_add(images, bpfman_image(image_names[1], &docker, "amd64", labels_bpfman(), object_layer("xdp-counter.bpf.o", el)));
        g_ptr_array_add(images, index_image(image_names[2], all, G_N_ELEMENTS(all), el, eb));
        g_ptr_array_add(images, index_image(image_names[3], no_amd64, G_N_ELEMENTS(no_amd64), el, eb));
        g_ptr_array_add(images, counter_image(image_names[4], "amd64", eb, true));
        g_ptr_array_add(images, bpfman_image(image_names[5], &oci, "amd64", labels_legacy(), object_layer("xdp-counter.bpf.o", el)));
        g_ptr_array_add(images, bumblebee_image(image_names[6], el));
        {
                const TarEntry traversal = { "../../evil.o", AE_IFREG, elf, size, NULL };
                const TarEntry absolute = { "/etc/evil.o", AE_IFREG, elf, size, NULL };
                const TarEntry symlink = { "x.o", AE_IFLNK, NULL, 0, "/etc/passwd" };
                const TarEntry device = { "null.o", AE_IFCHR, NULL, 0, NULL };
                const TarEntry oversize = { "oversize.bpf.o", AE_IFREG, NULL, (size_t) 65 << 20, NULL };
                const TarEntry plain = { "xdp-counter.bpf.o", AE_IFREG, elf, size, NULL };
                const TarEntry two[] = { plain, { "second.bpf.o", AE_IFREG, elf, size, NULL } };

                g_ptr_array_add(images, hostile_image(image_names[7], &traversal, 1, true));
                g_ptr_array_add(images, hostile_image(image_names[8], &absolute, 1, true));
                g_ptr_array_add(images, hostile_image(image_names[9], &symlink, 1, true));
                g_ptr_array_add(images, hostile_image(image_names[10], &device, 1, true));
                g_ptr_array_add(images, hostile_image(image_names[11], &oversize, 1, true));
                g_ptr_array_add(images, hostile_image(image_names[12], &plain, 1, false));
                g_ptr_array_add(images, hostile_image(image_names[13], two, G_N_ELEMENTS(two), true));
        }
        g_ptr_array_add(images, bpfman_image(image_names[14], &oci, "amd64", labels_bpfman(), object_layer("big.bpf.o", big)));

        g_assert_cmpuint(images->len, ==, G_N_ELEMENTS(image_names) - 1);
        for (guint i = 0; i < images->len; i++)
                if (!images->pdata[i])
                        return NULL;
        return g_steal_pointer(&images);
}

/* Built once per process (the random bytes of bench/big too), so every
 * registry of a test run serves the same images. */
static GPtrArray *test_catalog(void) {
        static GPtrArray *catalog;

        if (!catalog)
                catalog = build_catalog();
        return catalog;
}

static const Image *find_image(const char *name) {
        GPtrArray *catalog = test_catalog();

        for (guint i = 0; catalog && i < catalog->len; i++)
                if (g_str_equal(((Image *) catalog->pdata[i])->name, name))
                        return catalog->pdata[i];
        return NULL;
}

const char *const *registry_fixture_test_images(void) {
        return image_names;
}

char *registry_fixture_test_manifest(const char *image) {
        const Image *img = find_image(image);

        return img ? g_strdup(img->manifest) : NULL;
}

/* Children first (by digest), then blobs, then the manifest under reference. */
static bool push_image(Client *c, const char *repo, const char *reference, const Image *img) {
        g_autofree char *digest = NULL;

        for (guint i = 0; i < img->children->len; i++) {
                const Image *child = img->children->pdata[i];
                if (!push_image(c, repo, child->digest, child))
                        return false;
        }
        for (guint i = 0; i < img->blobs->len; i++) {
                GBytes *blob = img->blobs->pdata[i];
                g_autofree char *d = push_blob(c, repo, g_bytes_get_data(blob, NULL), g_bytes_get_size(blob));
                if (!d)
                        return false;
        }
        digest = push_manifest(c, repo, reference, img->media_type, img->manifest);
        return digest != NULL;
}

/* Publishing pushes several images at once: the registry spends most of a
 * request writing files, so this is about twice as fast as one by one. */
#define PUBLISH_THREADS 4

typedef struct Publishing {
        RegistryFixture *r;
        GPtrArray *catalog;
        gint next;              /* index of the next image to push, atomic */
        GMutex lock;
        GString *errors;        /* under lock */
} Publishing;

static gpointer publish_worker(gpointer userdata) {
        Publishing *p = userdata;
        g_autoptr(Client) c = client_new(p->r);

        for (guint i; (i = (guint) g_atomic_int_add(&p->next, 1)) < p->catalog->len;) {
                const Image *img = p->catalog->pdata[i];
                g_autofree char *repo = g_strndup(img->name, (gsize) (strrchr(img->name, ':') - img->name));

                if (!push_image(c, repo, strrchr(img->name, ':') + 1, img))
                        client_fail(c, "could not publish %s to %s", img->name, p->r->host);
                if (c->errors) {
                        g_mutex_lock(&p->lock);
                        g_string_append_printf(p->errors, "%s%s", p->errors->len ? "\n# " : "", c->errors->str);
                        g_mutex_unlock(&p->lock);
                        g_string_free(g_steal_pointer(&c->errors), TRUE);
                }
        }
        return NULL;
}

bool registry_fixture_publish_test_images(RegistryFixture *r) {
        Publishing p = { .r = r, .catalog = test_catalog(), .errors = g_string_new(NULL) };
        GThread *threads[PUBLISH_THREADS];
        bool ok;

        if (!p.catalog || r->registry_pid <= 0) {
                if (p.catalog)
                        fail("registry_fixture_publish_test_images: the registry is not running");
                g_string_free(p.errors, TRUE);
                return false;
        }
        g_mutex_init(&p.lock);
        for (size_t i = 0; i < G_N_ELEMENTS(threads); i++)
                threads[i] = g_thread_new("publish", publish_worker, &p);
        for (size_t i = 0; i < G_N_ELEMENTS(threads); i++)
                g_thread_join(threads[i]);
        g_mutex_clear(&p.lock);
        ok = p.errors->len == 0;
        if (!ok)
                fail("%s", p.errors->str);
        g_string_free(p.errors, TRUE);
        return ok;
}

static bool layout_write(const char *dir, const char *relative, const void *data, size_t size) {
        g_autofree char *path = g_build_filename(dir, relative, NULL);
        g_autoptr(GError) error = NULL;

        if (g_file_set_contents(path, data, (gssize) size, &error))
                return true;
        fail("cannot write %s: %s", path, error->message);
        return false;
}

static bool layout_write_blob(const char *dir, const void *data, size_t size) {
        g_autofree char *digest = sha256_digest(data, size);
        g_autofree char *relative = g_strdup_printf("blobs/sha256/%s", digest + strlen("sha256:"));

        return layout_write(dir, relative, data, size);
}

bool registry_fixture_write_oci_layout(const char *dir, const char *tag) {
        static const char oci_layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
        const Image *img = find_image("bpfman/xdp-counter:v1");
        g_autofree char *blobs = g_build_filename(dir, "blobs", "sha256", NULL), *index = NULL;
        json_object *j, *manifests, *d;

        if (!img)
                return false;
        if (g_mkdir_with_parents(blobs, 0755) < 0) {
                fail("cannot create %s: %s", blobs, g_strerror(errno));
                return false;
        }
        for (guint i = 0; i < img->blobs->len; i++)
                if (!layout_write_blob(dir, g_bytes_get_data(img->blobs->pdata[i], NULL), g_bytes_get_size(img->blobs->pdata[i])))
                        return false;
        if (!layout_write_blob(dir, img->manifest, strlen(img->manifest)))
                return false;

        j = manifest_head(OCI_INDEX);
        manifests = json_object_new_array();
        d = descriptor_of(img);
        json_object_object_add(d, "annotations", annotation("org.opencontainers.image.ref.name", tag));
        json_object_array_add(manifests, d);
        json_object_object_add(j, "manifests", manifests);
        index = json_take_text(j);
        return layout_write(dir, "index.json", index, strlen(index)) && layout_write(dir, "oci-layout", oci_layout, strlen(oci_layout));
}
