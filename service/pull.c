/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <json-c/json.h>
#include <strings.h>
#include <sys/stat.h>

#include "digest.h"
#include "fileio.h"
#include "image.h"
#include "log.h"
#include "oci.h"
#include "pull.h"
#include "time-util.h"

#define PULL_ATTEMPTS_MAX 4
#define PULL_RETRY_BASE_USEC (250 * USEC_PER_MSEC)
#define TOKEN_RESPONSE_SIZE_MAX (1U << 20)
#define ERROR_BODY_SIZE_MAX (64U << 10)
#define SYSTEM_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"

typedef enum PullStep {
        STEP_MANIFEST,          /* the reference: a manifest or an index */
        STEP_CHILD_MANIFEST,    /* the host's entry of the index */
        STEP_CONFIG,
        STEP_LAYER,
        STEP_TOKEN,             /* a bearer token, then back to the step that was challenged */
        STEP_DONE,
} PullStep;

struct Pull {
        HttpClient *http;
        ImageStore *store;
        char *config_dir, *runtime_dir;
        char **insecure;
        ImageRef *ref;
        char *repository;
        RegistryCredentials credentials;
        bool have_credentials, credentials_from_call;

        PullStep step, challenged_step;
        HttpRequest *request;
        sd_event_source *retry_timer;
        unsigned attempts;
        bool auth_tried;
        char *bearer;           /* "Authorization: Bearer ..." */
        bool use_basic;
        char *ca_file;          /* the assembled CA bundle for the registry, or NULL for curl's default */
        char *token_url, *token_ca_file;
        bool token_url_plain;

        char *manifest;         /* the platform manifest */
        size_t manifest_size;
        char manifest_digest[DIGEST_STRING_MAX];
        char *manifest_media_type;
        char *index;            /* the index the reference named, if it did */
        size_t index_size;
        char index_digest[DIGEST_STRING_MAX];
        OciManifest *parsed;
        char *config;
        size_t config_size;
        int layer_fd;
        char *layer_path;
        uint64_t bytes_done, bytes_total, step_base;

        StoredImage result;
        ErrorInfo error;
        char hint[320];
        sd_event_source *defer;
        bool finished;

        pull_done_t done;
        pull_progress_t progress;
        void *userdata;
};

static const char *const pull_policy_table[_PULL_POLICY_MAX] = {
        [PULL_ALWAYS] = "Always",
        [PULL_IF_NOT_PRESENT] = "IfNotPresent",
        [PULL_NEVER] = "Never",
};

const char *pull_policy_to_string(PullPolicy p) {
        return p >= 0 && p < _PULL_POLICY_MAX ? pull_policy_table[p] : NULL;
}

PullPolicy pull_policy_from_string(const char *s) {
        for (PullPolicy p = 0; p < _PULL_POLICY_MAX; p++)
                if (s && strcasecmp(s, pull_policy_table[p]) == 0)
                        return p;
        return _PULL_POLICY_INVALID;
}

/* RFC 3986 unreserved characters stay, everything else is %XX. */
static char *url_escape(const char *s) {
        char *out = malloc(strlen(s) * 3 + 1), *o = out;

        if (!out)
                return NULL;
        for (const unsigned char *c = (const unsigned char *) s; *c; c++) {
                if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || strchr("-._~", *c))
                        *o++ = (char) *c;
                else
                        o += sprintf(o, "%%%02X", *c);
        }
        *o = '\0';
        return out;
}

static bool host_is_insecure(const Pull *p, const char *host) {
        return strv_contains(p->insecure, host);
}

/* Appends the file at path (at most max bytes) and a newline to the bundle. */
static int bundle_append_file(char **bundle, size_t *size, const char *path, size_t max) {
        _cleanup_free_ char *text = NULL;
        size_t n;
        char *b;
        int r;

        r = read_full_file(path, max, &text, &n);
        if (r < 0)
                return r;
        b = realloc(*bundle, *size + n + 2);
        if (!b)
                return -ENOMEM;
        memcpy(b + *size, text, n);
        *size += n;
        b[(*size)++] = '\n';
        *bundle = b;
        return 0;
}

/* Appends every *.crt of dir; returns how many. */
static int bundle_append_dir(char **bundle, size_t *size, const char *dir) {
        _cleanup_(closedirp) DIR *d = opendir(dir);
        struct dirent *de;
        int n = 0, r;

        while (d && (de = readdir(d))) {
                _cleanup_free_ char *path = NULL;
                size_t len = strlen(de->d_name);

                if (len < 5 || !streq(de->d_name + len - 4, ".crt"))
                        continue;
                path = strjoin(dir, "/", de->d_name);
                if (!path)
                        return -ENOMEM;
                r = bundle_append_file(bundle, size, path, 1U << 20);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        log_warning_errno(r, "Ignoring CA certificate %s: %m", path);
                        continue;
                }
                n++;
        }
        return n;
}

/* System CAs plus <config_dir>/certs.d/<host>/\*.crt and
 * /etc/containers/certs.d/<host>/\*.crt, as one PEM file for curl (GnuTLS
 * curl takes no in-memory bundle). NULL path: no registry-specific CAs. */
static int assemble_ca_bundle(const Pull *p, const char *host, char **ret) {
        _cleanup_free_ char *bundle = NULL, *ca_dir = NULL, *name = NULL, *ours = NULL, *containers = NULL;
        size_t size = 0;
        int r, any = 0;

        ours = strjoin(p->config_dir, "/certs.d/", host);
        containers = strjoin("/etc/containers/certs.d/", host);
        if (!ours || !containers)
                return -ENOMEM;
        r = bundle_append_file(&bundle, &size, SYSTEM_CA_BUNDLE, 16U << 20);
        if (r == -ENOMEM)
                return r;
        for (size_t i = 0; i < 2; i++) {
                r = bundle_append_dir(&bundle, &size, i == 0 ? ours : containers);
                if (r < 0)
                        return r;
                any += r;
        }
        if (any == 0) {
                *ret = NULL;
                return 0;
        }
        ca_dir = strjoin(p->runtime_dir, "/ca");
        name = strjoin(host, ".pem");
        if (!ca_dir || !name)
                return -ENOMEM;
        r = mkdir_parents(ca_dir, 0755);
        if (r < 0)
                return r;
        r = write_file_atomic(ca_dir, name, bundle, size);
        if (r < 0)
                return r;
        *ret = strjoin(ca_dir, "/", name);
        return *ret ? 0 : -ENOMEM;
}

static int registry_url(const Pull *p, const char *what, const char *reference, char **ret) {
        const char *host = image_ref_api_host(p->ref);

        *ret = strjoin(host_is_insecure(p, host) ? "http://" : "https://", host, "/v2/", p->ref->path, "/", what, "/",
                       reference);
        return *ret ? 0 : -ENOMEM;
}

static void pull_finish(Pull *p, int error);
static int step_start(Pull *p);

static void report_progress(Pull *p) {
        if (p->progress)
                p->progress(p, p->bytes_done, p->bytes_total, p->userdata);
}

static int fail(Pull *p, int error, const char *bus_error, const char *fmt, ...) _printf_(4, 5);
static int fail(Pull *p, int error, const char *bus_error, const char *fmt, ...) {
        va_list ap;

        p->error.error = -abs(error);
        p->error.bus_error = bus_error;
        errno = abs(error);
        va_start(ap, fmt);
        (void) vsnprintf(p->error.message, sizeof p->error.message, fmt, ap);
        va_end(ap);
        pull_finish(p, -abs(error));
        return -abs(error);
}

static int fail_with(Pull *p, const ErrorInfo *e) {
        p->error = *e;
        pull_finish(p, e->error);
        return e->error;
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        Pull *p = userdata;

        p->retry_timer = sd_event_source_disable_unref(p->retry_timer);
        (void) step_start(p);
        return 0;
}

/* Transient failures: connection problems, 5xx and 429. */
static bool retry_later(Pull *p, sd_event *event) {
        uint64_t now;

        if (++p->attempts >= PULL_ATTEMPTS_MAX)
                return false;
        if (sd_event_now(event, CLOCK_MONOTONIC, &now) < 0 ||
            sd_event_add_time(event, &p->retry_timer, CLOCK_MONOTONIC,
                              now + PULL_RETRY_BASE_USEC * (1ULL << (p->attempts - 1)), 0, on_retry, p) < 0)
                return false;
        log_debug("Pull of %s: transient failure, attempt %u of %d.", p->repository, p->attempts + 1, PULL_ATTEMPTS_MAX);
        return true;
}

static int load_credentials_from_files(Pull *p) {
        _cleanup_strv_free_ char **paths = registry_auth_file_paths(p->config_dir);
        const char *host = image_ref_api_host(p->ref);

        if (!paths)
                return -ENOMEM;
        STRV_FOREACH(path, paths) {
                _cleanup_free_ char *text = NULL;
                size_t size;
                if (read_full_file(*path, REGISTRY_AUTH_FILE_SIZE_MAX, &text, &size) < 0)
                        continue;
                int r = registry_auth_file_lookup(text, size, host, p->ref->path, &p->credentials);
                if (r == -ENOENT)
                        r = registry_auth_file_lookup(text, size, p->ref->domain, p->ref->path, &p->credentials);
                if (r == -ENOMEM)
                        return r;
                if (r == -EBADMSG)
                        log_warning("Auth file %s is not valid JSON or has a malformed entry; skipped.", *path);
                if (r >= 0) {
                        log_debug("Using credentials for %s from %s.", host, *path);
                        p->have_credentials = true;
                        return 0;
                }
        }
        return 0;
}

static const char *credentials_hint(Pull *p) {
        if (p->credentials_from_call)
                return "the credentials given were refused";
        if (p->have_credentials)
                return "the credentials from the auth file were refused";
        (void) snprintf(p->hint, sizeof p->hint,
                        "no credentials were given (use --registry-auth, or an entry in %s/auth.json, $REGISTRY_AUTH_FILE, "
                        "/run/containers/0/auth.json or /root/.docker/config.json)", p->config_dir);
        return p->hint;
}

static int handle_challenge(Pull *p, HttpRequest *req) {
        _cleanup_(auth_challenge_done) AuthChallenge c = {};
        const char *header = http_request_header(req, "www-authenticate");
        const char *host = image_ref_api_host(p->ref);
        int r;

        if (p->auth_tried)
                return fail(p, EACCES, BUS_ERROR_REGISTRY_UNAUTHORIZED, "%s refused access to %s: %s.", host, p->ref->path,
                            credentials_hint(p));
        p->auth_tried = true;
        if (!header || auth_challenge_parse(header, &c) < 0)
                return fail(p, EACCES, BUS_ERROR_REGISTRY_UNAUTHORIZED,
                            "%s answered 401 without a challenge bpfhub understands (WWW-Authenticate: %.100s).", host,
                            strna(header));
        if (!p->have_credentials) {
                r = load_credentials_from_files(p);
                if (r < 0)
                        return fail(p, r, NULL, "Out of memory.");
        }

        if (c.scheme == AUTH_SCHEME_BASIC) {
                if (!p->have_credentials)
                        return fail(p, EACCES, BUS_ERROR_REGISTRY_UNAUTHORIZED, "%s requires credentials for %s: %s.", host,
                                    p->ref->path, credentials_hint(p));
                p->use_basic = true;
                return step_start(p);
        }

        /* Bearer: ask the realm for a token with pull access to this repository. */
        _cleanup_free_ char *realm_host = NULL, *url = NULL, *service = NULL, *scope = NULL, *default_scope = NULL;
        const char *rh = startswith(c.realm, "https://") ?: startswith(c.realm, "http://");
        if (!rh)
                return fail(p, EPROTO, BUS_ERROR_REGISTRY_UNAUTHORIZED, "%s sent a token realm that is not an http(s) URL: %.100s",
                            host, c.realm);
        realm_host = strndup(rh, strcspn(rh, "/?#"));
        if (!realm_host)
                return fail(p, ENOMEM, NULL, "Out of memory.");
        if (startswith(c.realm, "http://") && !host_is_insecure(p, realm_host))
                return fail(p, EPROTO, BUS_ERROR_REGISTRY_UNAUTHORIZED,
                            "%s sends clients to a token service over plain HTTP (%s); list %s under [Registries] Insecure= to allow it.",
                            host, c.realm, realm_host);

        default_scope = strjoin("repository:", p->ref->path, ":pull");
        if (!default_scope)
                return fail(p, ENOMEM, NULL, "Out of memory.");
        _cleanup_free_ char *esc_scope = url_escape(c.scope ?: default_scope);
        _cleanup_free_ char *esc_service = url_escape(c.service ?: "");
        if (!esc_scope || !esc_service)
                return fail(p, ENOMEM, NULL, "Out of memory.");
        free(p->token_url);
        p->token_url = strjoin(c.realm, strchr(c.realm, '?') ? "&" : "?", "scope=", esc_scope,
                               c.service ? "&service=" : "", c.service ? esc_service : "");
        if (!p->token_url)
                return fail(p, ENOMEM, NULL, "Out of memory.");
        p->token_url_plain = startswith(c.realm, "http://");
        p->token_ca_file = mfree(p->token_ca_file);
        r = assemble_ca_bundle(p, realm_host, &p->token_ca_file);
        if (r < 0)
                return fail(p, r, NULL, "Could not assemble the CA bundle for %s: %m", realm_host);

        p->challenged_step = p->step;
        p->step = STEP_TOKEN;
        p->attempts = 0;
        return step_start(p);
}

static int start_request(Pull *p, const char *url, const char *ca_file, bool registry_auth) {
        const char *host = image_ref_api_host(p->ref);
        int r;

        p->request = http_request_free(p->request);
        r = http_request_new(p->http, url, &p->request);
        if (r < 0)
                return r;
        if (ca_file) {
                r = http_request_set_ca_file(p->request, ca_file);
                if (r < 0)
                        return r;
        }
        if (host_is_insecure(p, host))
                http_request_allow_plain_http(p->request);
        if (registry_auth && p->bearer)
                r = http_request_add_header(p->request, p->bearer);
        else if (registry_auth && p->use_basic)
                r = http_request_set_basic_auth(p->request, p->credentials.username, p->credentials.password);
        return r;
}

static void on_request_done(HttpRequest *req, int error, long status, void *userdata);

static void on_layer_progress(HttpRequest *req, uint64_t bytes, void *userdata) {
        Pull *p = userdata;

        p->bytes_done = p->step_base + bytes;
        report_progress(p);
}

static int step_start(Pull *p) {
        _cleanup_free_ char *url = NULL;
        int r;

        switch (p->step) {
        case STEP_MANIFEST:
        case STEP_CHILD_MANIFEST:
                r = registry_url(p, "manifests",
                                 p->step == STEP_MANIFEST ? image_ref_manifest_reference(p->ref) : p->manifest_digest, &url);
                if (r >= 0)
                        r = start_request(p, url, p->ca_file, true);
                if (r >= 0)
                        r = http_request_add_header(p->request, "Accept: " OCI_MANIFEST_ACCEPT);
                if (r >= 0)
                        http_request_body_to_memory(p->request, OCI_MANIFEST_SIZE_MAX);
                break;
        case STEP_CONFIG:
                r = registry_url(p, "blobs", p->parsed->config.digest, &url);
                if (r >= 0)
                        r = start_request(p, url, p->ca_file, true);
                if (r >= 0)
                        http_request_body_to_memory(p->request, p->parsed->config.size);
                break;
        case STEP_LAYER: {
                const OciDescriptor *layer = NULL;
                ImageFormat format;
                ErrorInfo ignored;
                (void) oci_manifest_bytecode_layer(p->parsed, &format, &layer, &ignored);
                if (ftruncate(p->layer_fd, 0) < 0 || lseek(p->layer_fd, 0, SEEK_SET) < 0)
                        return fail(p, errno, NULL, "Could not reset the download file: %m");
                r = registry_url(p, "blobs", layer->digest, &url);
                if (r >= 0)
                        r = start_request(p, url, p->ca_file, true);
                if (r >= 0) {
                        http_request_body_to_fd(p->request, p->layer_fd, layer->size);
                        http_request_set_progress(p->request, on_layer_progress, p);
                }
                break;
        }
        case STEP_TOKEN:
                r = start_request(p, p->token_url, p->token_ca_file, false);
                if (r >= 0 && p->have_credentials)
                        r = http_request_set_basic_auth(p->request, p->credentials.username, p->credentials.password);
                if (r >= 0) {
                        http_request_body_to_memory(p->request, TOKEN_RESPONSE_SIZE_MAX);
                        if (p->token_url_plain)
                                http_request_allow_plain_http(p->request);
                }
                break;
        default:
                assert(false);
                r = -EINVAL;
        }
        if (r >= 0)
                r = http_request_start(p->request, on_request_done, p);
        if (r < 0)
                return fail(p, r, NULL, "Could not start an HTTP request: %m");
        return 0;
}

static const char *step_what(PullStep s) {
        switch (s) {
        case STEP_MANIFEST:
        case STEP_CHILD_MANIFEST:
                return "manifest";
        case STEP_CONFIG:
                return "image config";
        case STEP_LAYER:
                return "layer";
        case STEP_TOKEN:
                return "token";
        default:
                return "request";
        }
}

static int after_config(Pull *p);

static int after_manifest(Pull *p) {
        const OciDescriptor *layer;
        ImageFormat format;
        int r;

        r = oci_manifest_bytecode_layer(p->parsed, &format, &layer, &p->error);
        if (r < 0)
                return fail_with(p, &p->error);
        if (layer->size > OCI_LAYER_SIZE_MAX)
                return fail(p, E2BIG, BUS_ERROR_LIMITS_EXCEEDED,
                            "The image's layer is %" PRIu64 " bytes; at most %llu are accepted.", layer->size,
                            OCI_LAYER_SIZE_MAX);
        if (!image_store_has_blob(p->store, p->parsed->config.digest, p->parsed->config.size))
                p->bytes_total += p->parsed->config.size;
        if (!image_store_has_blob(p->store, layer->digest, layer->size))
                p->bytes_total += layer->size;
        report_progress(p);

        if (image_store_has_blob(p->store, p->parsed->config.digest, p->parsed->config.size)) {
                r = image_store_read_blob(p->store, p->parsed->config.digest, OCI_CONFIG_SIZE_MAX, &p->config,
                                          &p->config_size, &p->error);
                if (r < 0)
                        return fail_with(p, &p->error);
                return after_config(p);
        }
        p->step = STEP_CONFIG;
        p->attempts = 0;
        return step_start(p);
}

/* Stores everything and writes the index entry, last. */
static int commit(Pull *p) {
        const OciDescriptor *layer;
        ImageFormat format;
        int r;

        (void) oci_manifest_bytecode_layer(p->parsed, &format, &layer, &p->error);

        if (p->layer_path) {
                _cleanup_close_ int bytecode = -EBADF;
                char actual[DIGEST_STRING_MAX];
                uint64_t size;

                r = sha256_fd(p->layer_fd, actual, &size);
                if (r < 0)
                        return fail(p, r, NULL, "Could not read the downloaded layer: %m");
                if (size != layer->size || !streq(actual, layer->digest))
                        return fail(p, EBADMSG, BUS_ERROR_DIGEST_MISMATCH,
                                    "The layer the registry sent does not match the manifest: expected %s (%" PRIu64
                                    " bytes), got %s (%" PRIu64 " bytes). Nothing was stored.",
                                    layer->digest, layer->size, actual, size);
                r = image_layer_bytecode(p->layer_fd, layer->media_type, &bytecode, &p->error);
                if (r < 0)
                        return fail_with(p, &p->error);
                /* Verified above: publish without hashing the layer a second time. */
                r = image_store_ingest_publish(p->store, p->layer_fd, p->layer_path, layer->digest, &p->error);
                p->layer_path = mfree(p->layer_path);
                if (r < 0)
                        return fail_with(p, &p->error);
        } else {
                _cleanup_close_ int layer_fd = -EBADF, bytecode = -EBADF;
                r = image_store_open_blob(p->store, layer->digest, &layer_fd, &p->error);
                if (r >= 0)
                        r = image_layer_bytecode(layer_fd, layer->media_type, &bytecode, &p->error);
                if (r < 0)
                        return fail_with(p, &p->error);
        }

        r = image_store_put_blob(p->store, p->config, p->config_size, p->parsed->config.digest, &p->error);
        if (r >= 0)
                r = image_store_put_blob(p->store, p->manifest, p->manifest_size, p->manifest_digest, &p->error);
        if (r >= 0 && p->index)
                r = image_store_put_blob(p->store, p->index, p->index_size, p->index_digest, &p->error);
        if (r < 0)
                return fail_with(p, &p->error);

        p->result = (StoredImage) {
                .reference = image_ref_to_string(p->ref),
                .digest = strdup(p->manifest_digest),
                .media_type = strdup(p->manifest_media_type),
                .size = p->manifest_size,
                .index_digest = p->index ? strdup(p->index_digest) : NULL,
                .pulled_usec = now_usec(CLOCK_REALTIME),
        };
        if (!p->result.reference || !p->result.digest || !p->result.media_type || (p->index && !p->result.index_digest))
                return fail(p, ENOMEM, NULL, "Out of memory.");
        r = image_store_add(p->store, &p->result);
        if (r < 0)
                return fail(p, r, NULL, "Could not record %s in the image store: %m", p->result.reference);

        if (p->bytes_done != p->bytes_total) {
                p->bytes_done = p->bytes_total;
                report_progress(p);
        }
        p->step = STEP_DONE;
        pull_finish(p, 0);
        return 0;
}

static int after_config(Pull *p) {
        _cleanup_(image_config_freep) ImageConfig *config = NULL;
        const OciDescriptor *layer;
        ImageFormat format;
        int r;

        r = image_config_parse(p->config, p->config_size, &config, &p->error);
        if (r < 0)
                return fail_with(p, &p->error);
        (void) oci_manifest_bytecode_layer(p->parsed, &format, &layer, &p->error);
        if (image_store_has_blob(p->store, layer->digest, layer->size))
                return commit(p);

        r = image_store_ingest_new(p->store, &p->layer_fd, &p->layer_path);
        if (r < 0)
                return fail(p, r, NULL, "Could not create a download file in the image store: %m");
        p->step_base = p->bytes_done;
        p->step = STEP_LAYER;
        p->attempts = 0;
        return step_start(p);
}

static int handle_manifest(Pull *p, HttpRequest *req) {
        _cleanup_(oci_manifest_freep) OciManifest *m = NULL;
        const char *header_digest = http_request_header(req, "docker-content-digest");
        char digest[DIGEST_STRING_MAX];
        const char *body;
        size_t size;
        int r;

        body = http_request_body(req, &size);
        r = sha256_buffer(body, size, digest);
        if (r < 0)
                return fail(p, r, NULL, "Could not hash the manifest: %m");

        if (p->step == STEP_CHILD_MANIFEST) {
                if (!streq(digest, p->manifest_digest))
                        return fail(p, EBADMSG, BUS_ERROR_DIGEST_MISMATCH,
                                    "The manifest the registry sent for %s hashes to %s. Nothing was stored.",
                                    p->manifest_digest, digest);
        } else {
                if (p->ref->digest && !streq(digest, p->ref->digest))
                        return fail(p, EBADMSG, BUS_ERROR_DIGEST_MISMATCH,
                                    "The registry sent a manifest that hashes to %s for %s. Nothing was stored.", digest,
                                    p->ref->digest);
                if (header_digest && digest_is_valid(header_digest) && !streq(header_digest, digest))
                        return fail(p, EBADMSG, BUS_ERROR_DIGEST_MISMATCH,
                                    "The registry says the manifest is %s but its bytes hash to %s. Nothing was stored.",
                                    header_digest, digest);
        }

        r = oci_manifest_parse(body, size, http_request_header(req, "content-type"), &m, &p->error);
        if (r < 0)
                return fail_with(p, &p->error);

        if (m->kind == OCI_KIND_INDEX) {
                const OciDescriptor *entry;
                if (p->step == STEP_CHILD_MANIFEST)
                        return fail(p, EBADMSG, BUS_ERROR_INVALID_BYTECODE, "The index's entry is another index.");
                r = oci_index_select(m, oci_host_arch(), &entry, &p->error);
                if (r < 0)
                        return fail_with(p, &p->error);
                if (entry->size > OCI_MANIFEST_SIZE_MAX)
                        return fail(p, E2BIG, BUS_ERROR_LIMITS_EXCEEDED, "The index entry's manifest is too large.");
                p->index = malloc(size + 1);
                if (!p->index)
                        return fail(p, ENOMEM, NULL, "Out of memory.");
                memcpy(p->index, body, size);
                p->index_size = size;
                memcpy(p->index_digest, digest, sizeof digest);
                snprintf(p->manifest_digest, sizeof p->manifest_digest, "%s", entry->digest);
                p->step = STEP_CHILD_MANIFEST;
                p->attempts = 0;
                return step_start(p);
        }

        p->manifest = malloc(size + 1);
        p->manifest_media_type = strdup(m->media_type);
        if (!p->manifest || !p->manifest_media_type)
                return fail(p, ENOMEM, NULL, "Out of memory.");
        memcpy(p->manifest, body, size);
        p->manifest_size = size;
        memcpy(p->manifest_digest, digest, sizeof digest);
        p->parsed = TAKE_PTR(m);
        return after_manifest(p);
}

static int handle_config(Pull *p, HttpRequest *req) {
        char digest[DIGEST_STRING_MAX];
        const char *body;
        size_t size;
        int r;

        body = http_request_body(req, &size);
        r = sha256_buffer(body, size, digest);
        if (r < 0)
                return fail(p, r, NULL, "Could not hash the image config: %m");
        if (!streq(digest, p->parsed->config.digest) || size != p->parsed->config.size)
                return fail(p, EBADMSG, BUS_ERROR_DIGEST_MISMATCH,
                            "The image config the registry sent hashes to %s, the manifest says %s. Nothing was stored.",
                            digest, p->parsed->config.digest);
        p->config = malloc(size + 1);
        if (!p->config)
                return fail(p, ENOMEM, NULL, "Out of memory.");
        memcpy(p->config, body, size);
        p->config_size = size;
        p->bytes_done += size;
        report_progress(p);
        return after_config(p);
}

static int handle_token(Pull *p, HttpRequest *req) {
        json_object *j, *token = NULL;
        const char *body;
        size_t size;

        body = http_request_body(req, &size);
        j = json_tokener_parse(body);
        if (!j || !((json_object_object_get_ex(j, "token", &token) && json_object_is_type(token, json_type_string)) ||
                    (json_object_object_get_ex(j, "access_token", &token) && json_object_is_type(token, json_type_string)))) {
                json_object_put(j);
                return fail(p, EPROTO, BUS_ERROR_REGISTRY_UNAUTHORIZED, "The token service sent no token.");
        }
        free(p->bearer);
        p->bearer = strjoin("Authorization: Bearer ", json_object_get_string(token));
        json_object_put(j);
        if (!p->bearer)
                return fail(p, ENOMEM, NULL, "Out of memory.");
        p->step = p->challenged_step;
        p->attempts = 0;
        return step_start(p);
}

static void on_request_done(HttpRequest *req, int error, long status, void *userdata) {
        Pull *p = userdata;
        const char *host = image_ref_api_host(p->ref), *what = step_what(p->step);
        sd_event *event = http_client_get_event(p->http);

        if (error == -E2BIG) {
                if (p->step == STEP_MANIFEST || p->step == STEP_CHILD_MANIFEST || p->step == STEP_TOKEN)
                        (void) fail(p, E2BIG, BUS_ERROR_LIMITS_EXCEEDED, "The %s %s sent is larger than %llu bytes.", what,
                                    host, p->step == STEP_TOKEN ? (unsigned long long) TOKEN_RESPONSE_SIZE_MAX : OCI_MANIFEST_SIZE_MAX);
                else
                        (void) fail(p, EBADMSG, BUS_ERROR_DIGEST_MISMATCH,
                                    "%s sent more bytes for the %s than its manifest says. Nothing was stored.", host, what);
                return;
        }
        if (error < 0) {
                if (error != -EPROTO && error != -EPROTONOSUPPORT && error != -ELOOP && error != -ENOMEM &&
                    retry_later(p, event))
                        return;
                (void) fail(p, error, NULL, "Could not fetch the %s from %s: %s.", what,
                            p->step == STEP_TOKEN ? "the token service" : host, http_request_error_message(req));
                return;
        }

        if (p->step == STEP_TOKEN && status != 200) {
                if (status >= 500 && retry_later(p, event))
                        return;
                (void) fail(p, EACCES, BUS_ERROR_REGISTRY_UNAUTHORIZED,
                            "The token service for %s refused to issue a token (HTTP %ld): %s.", host, status,
                            credentials_hint(p));
                return;
        }

        switch (status) {
        case 200:
                break;
        case 401:
                (void) handle_challenge(p, req);
                return;
        case 403:
                (void) fail(p, EACCES, BUS_ERROR_REGISTRY_UNAUTHORIZED, "%s denied access to %s (HTTP 403): %s.", host,
                            p->ref->path, credentials_hint(p));
                return;
        case 404:
                if (p->step == STEP_MANIFEST)
                        (void) fail(p, ENOENT, BUS_ERROR_NO_SUCH_IMAGE, "%s has no image %s:%s.", host, p->ref->path,
                                    image_ref_manifest_reference(p->ref));
                else
                        (void) fail(p, ENOENT, BUS_ERROR_NO_SUCH_IMAGE, "%s is missing the %s of %s (HTTP 404).", host,
                                    what, p->ref->path);
                return;
        case 429:
        case 500 ... 599:
                if (retry_later(p, event))
                        return;
                __attribute__((fallthrough));
        default:
                (void) fail(p, EPROTO, NULL, "%s answered HTTP %ld for the %s of %s.", host, status, what, p->ref->path);
                return;
        }

        switch (p->step) {
        case STEP_MANIFEST:
        case STEP_CHILD_MANIFEST:
                (void) handle_manifest(p, req);
                break;
        case STEP_CONFIG:
                (void) handle_config(p, req);
                break;
        case STEP_LAYER:
                (void) commit(p);
                break;
        case STEP_TOKEN:
                (void) handle_token(p, req);
                break;
        default:
                break;
        }
}

static int on_finished(sd_event_source *s, void *userdata) {
        Pull *p = userdata;

        p->defer = sd_event_source_disable_unref(p->defer);
        if (p->done)
                p->done(p, p->error.error < 0 ? &p->error : NULL, p->userdata);
        return 0;
}

/* error: 0 or a negative errno. */
static void pull_finish(Pull *p, int error) {
        assert(error <= 0);
        if (p->finished)
                return;
        p->finished = true;
        if (error >= 0)
                p->error.error = 0;
        else if (p->error.error >= 0)
                p->error.error = error;
        p->retry_timer = sd_event_source_disable_unref(p->retry_timer);
        if (p->layer_path) {
                (void) unlink(p->layer_path);
                p->layer_path = mfree(p->layer_path);
        }
        /* The request may be the one whose callback runs now; it goes with the pull. */
        if (sd_event_add_defer(http_client_get_event(p->http), &p->defer, on_finished, p) < 0)
                log_error("Could not schedule the end of a pull; its caller waits forever.");
}

int pull_new(HttpClient *http, ImageStore *store, const PullSettings *settings, const ImageRef *ref,
             const RegistryCredentials *credentials, Pull **ret) {
        _cleanup_(pull_freep) Pull *p = NULL;
        _cleanup_free_ char *s = NULL;
        ErrorInfo ignored;
        int r;

        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->http = http;
        p->store = store;
        p->layer_fd = -EBADF;
        p->config_dir = strdup(settings->config_dir);
        p->runtime_dir = strdup(settings->runtime_dir);
        s = image_ref_to_string(ref);
        if (!p->config_dir || !p->runtime_dir || !s)
                return -ENOMEM;
        STRV_FOREACH(i, settings->insecure)
                if (strv_extend(&p->insecure, *i) < 0)
                        return -ENOMEM;
        r = image_ref_parse(s, &p->ref, &ignored);
        if (r < 0)
                return r;
        p->repository = image_ref_repository(p->ref);
        if (!p->repository)
                return -ENOMEM;
        if (credentials && credentials->username) {
                p->credentials.username = strdup(credentials->username);
                p->credentials.password = strdup(strempty(credentials->password));
                if (!p->credentials.username || !p->credentials.password)
                        return -ENOMEM;
                p->have_credentials = p->credentials_from_call = true;
        }
        *ret = TAKE_PTR(p);
        return 0;
}

Pull *pull_free(Pull *p) {
        if (!p)
                return NULL;
        http_request_free(p->request);
        sd_event_source_disable_unref(p->retry_timer);
        sd_event_source_disable_unref(p->defer);
        if (p->layer_path)
                (void) unlink(p->layer_path);
        free(p->layer_path);
        safe_close(p->layer_fd);
        free(p->config_dir);
        free(p->runtime_dir);
        strv_free(p->insecure);
        image_ref_free(p->ref);
        free(p->repository);
        registry_credentials_done(&p->credentials);
        if (p->bearer)
                explicit_bzero(p->bearer, strlen(p->bearer));
        free(p->bearer);
        free(p->ca_file);
        free(p->token_url);
        free(p->token_ca_file);
        free(p->manifest);
        free(p->manifest_media_type);
        free(p->index);
        oci_manifest_free(p->parsed);
        free(p->config);
        stored_image_done(&p->result);
        free(p);
        return NULL;
}

int pull_start(Pull *p, pull_done_t done, pull_progress_t progress, void *userdata) {
        const char *host = image_ref_api_host(p->ref);
        int r;

        p->done = done;
        p->progress = progress;
        p->userdata = userdata;
        if (!host_is_insecure(p, host)) {
                r = assemble_ca_bundle(p, host, &p->ca_file);
                if (r < 0)
                        return r;
        }
        p->step = STEP_MANIFEST;
        return step_start(p);
}

void pull_cancel(Pull *p) {
        if (p->finished)
                return;
        p->request = http_request_free(p->request);
        (void) fail(p, ECANCELED, NULL, "The pull of %s was cancelled.", p->repository);
}

const StoredImage *pull_result(const Pull *p) {
        return p->step == STEP_DONE ? &p->result : NULL;
}

char **pull_pending_digests(const Pull *p) {
        _cleanup_strv_free_ char **l = NULL;

        if (p->finished || !p->parsed)
                return calloc(1, sizeof(char *));
        if (strv_extend(&l, p->parsed->config.digest) < 0)
                return NULL;
        for (size_t i = 0; i < p->parsed->n_layers; i++)
                if (strv_extend(&l, p->parsed->layers[i].digest) < 0)
                        return NULL;
        return TAKE_PTR(l);
}
