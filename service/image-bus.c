/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <stdarg.h>

#include "bus-errors.h"
#include "bus-polkit.h"
#include "bus-util.h"
#include "image-bus.h"
#include "image.h"
#include "log.h"

#define TRANSFERS_MAX 16
#define TRANSFER_PATH_PREFIX BPFHUB_MANAGER_PATH "/transfer"
#define IMAGE_PATH_PREFIX BPFHUB_MANAGER_PATH "/image"
#define TRANSFER_INTERFACE "org.bpfhub.Transfer1"
#define IMAGE_INTERFACE "org.bpfhub.Image1"
#define PROGRESS_INTERVAL_USEC (200 * USEC_PER_MSEC)

/* A Load waiting for the pull of its image. */
typedef struct PendingLoad {
        sd_bus_message *msg;
        LoadRequest req;
        struct PendingLoad *next;
} PendingLoad;

typedef struct Transfer {
        Manager *manager;
        uint32_t id;
        char *path;
        char *reference;        /* the full reference being pulled */
        const char *state;      /* "running", "done", "failed", "cancelled" */
        uint64_t bytes_done, bytes_total;
        usec_t last_progress;
        char *digest;
        char *error_name, *error_message;
        Pull *pull;
        char **requesters;      /* unique bus names of the callers it works for: its signals go to them */
        PendingLoad *loads;
        sd_event_source *finish;        /* reports an already-finished transfer after the reply */
        struct Transfer *next;
} Transfer;

static Transfer *transfer_free(Transfer *t) {
        if (!t)
                return NULL;
        pull_free(t->pull);
        sd_event_source_disable_unref(t->finish);
        while (t->loads) {
                PendingLoad *l = t->loads;
                t->loads = l->next;
                (void) sd_bus_reply_method_errorf(l->msg, BUS_ERROR_SHUTTING_DOWN, "bpfhubd is shutting down.");
                sd_bus_message_unref(l->msg);
                load_request_done(&l->req);
                free(l);
        }
        free(t->path);
        strv_free(t->requesters);
        free(t->reference);
        free(t->digest);
        free(t->error_name);
        free(t->error_message);
        return mfree(t);
}

static char *image_bus_path(const char *reference);

static void transfer_unlink(Transfer *t) {
        for (Transfer **i = &t->manager->transfers; *i; i = &(*i)->next)
                if (*i == t) {
                        *i = t->next;
                        return;
                }
}

void image_bus_emit_used_by_changed(Manager *m, const char *reference) {
        _cleanup_free_ char *path = image_bus_path(reference);

        if (path)
                (void) BUS_EMIT(&m->polkit, sd_bus_emit_properties_changed(m->bus, path, IMAGE_INTERFACE, "UsedBy", NULL));
}

bool image_bus_busy(Manager *m) {
        return m->transfers != NULL;
}

static Transfer *transfer_find(Manager *m, uint32_t id) {
        for (Transfer *t = m->transfers; t; t = t->next)
                if (t->id == id)
                        return t;
        return NULL;
}

static Transfer *transfer_find_running(Manager *m, const char *reference) {
        for (Transfer *t = m->transfers; t; t = t->next)
                if (streq(t->reference, reference) && streq(t->state, "running"))
                        return t;
        return NULL;
}

static unsigned transfer_count(Manager *m) {
        unsigned n = 0;
        for (Transfer *t = m->transfers; t; t = t->next)
                n++;
        return n;
}

static char *image_bus_path(const char *reference) {
        char *p = NULL;
        return sd_bus_path_encode(IMAGE_PATH_PREFIX, reference, &p) < 0 ? NULL : p;
}

static int check_programs_offered(const ImageConfig *config, const LoadRequest *req, ErrorInfo *error);

/* Loads that waited for this transfer: finish them now. */
static void transfer_run_loads(Transfer *t, const ErrorInfo *error) {
        Manager *m = t->manager;

        while (t->loads) {
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
                _cleanup_close_ int fd = -EBADF;
                PendingLoad *l = t->loads;
                int r;

                t->loads = l->next;
                if (error)
                        r = bus_reply_error_info(&e, error);
                else {
                        StoredImage img = {};
                        r = image_store_find(m->images, t->reference, &img);
                        if (r < 0)
                                r = sd_bus_error_setf(&e, BUS_ERROR_NO_SUCH_IMAGE, "%s vanished from the store.", t->reference);
                        else {
                                _cleanup_(image_info_freep) ImageInfo *info = NULL;
                                ErrorInfo ei;
                                r = image_info_load(m->images, &img, &info, &ei);
                                if (r >= 0)
                                        r = check_programs_offered(info->config, &l->req, &ei);
                                if (r >= 0)
                                        r = image_open_bytecode(m->images, info, &fd, &ei);
                                if (r >= 0) {
                                        free(l->req.path);
                                        free(l->req.image_digest);
                                        free(l->req.image_reference);
                                        l->req.image_digest = strdup(img.digest);
                                        l->req.image_reference = strdup(img.reference);
                                        r = asprintf(&l->req.path, "/proc/self/fd/%d", fd) < 0 || !l->req.image_digest ||
                                            !l->req.image_reference ? -ENOMEM : 0;
                                        if (r >= 0)
                                                r = manager_bus_finish_load(m, l->msg, &l->req, &e);
                                } else
                                        r = bus_reply_error_info(&e, &ei);
                        }
                        stored_image_done(&img);
                }
                if (r < 0)
                        (void) sd_bus_reply_method_errno(l->msg, r, &e);
                sd_bus_message_unref(l->msg);
                load_request_done(&l->req);
                free(l);
        }
}

static int check_programs_offered(const ImageConfig *config, const LoadRequest *req, ErrorInfo *error) {
        _cleanup_strv_free_ char **names = NULL;

        for (size_t i = 0; i < req->n_programs; i++)
                if (strv_extend(&names, req->programs[i].name) < 0)
                        return error_info_set(error, ENOMEM, NULL, "Out of memory.");
        return image_config_check_programs(config, names, error);
}

static void transfer_add_requester(Transfer *t, sd_bus_message *msg) {
        const char *sender = sd_bus_message_get_sender(msg);

        if (sender && !strv_contains(t->requesters, sender))
                (void) strv_extend(&t->requesters, sender);
}

/* Finished and Progress go to the transfer's callers only: a broadcast would
 * tell every bus client which images are being pulled. */
static void transfer_send_signal(Transfer *t, const char *member, const char *types, ...) {
        STRV_FOREACH(dest, t->requesters) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
                va_list ap;
                int r;

                r = sd_bus_message_new_signal(t->manager->bus, &m, t->path, TRANSFER_INTERFACE, member);
                if (r >= 0)
                        r = sd_bus_message_set_destination(m, *dest);
                if (r >= 0) {
                        va_start(ap, types);
                        r = sd_bus_message_appendv(m, types, ap);
                        va_end(ap);
                }
                if (r >= 0)
                        r = sd_bus_send(t->manager->bus, m, NULL);
                if (r < 0)
                        log_debug_errno(r, "Could not send %s of transfer %" PRIu32 " to %s: %m", member, t->id, *dest);
        }
}

static void transfer_emit_progress(Transfer *t) {
        transfer_send_signal(t, "Progress", "tt", t->bytes_done, t->bytes_total);
        (void) BUS_EMIT(&t->manager->polkit, sd_bus_emit_properties_changed(t->manager->bus, t->path, TRANSFER_INTERFACE,
                                                                             "BytesDone", "BytesTotal", NULL));
}

static void transfer_end(Transfer *t) {
        Manager *m = t->manager;
        _cleanup_free_ char *image_path = NULL;

        transfer_send_signal(t, "Finished", "ssss", t->state, strempty(t->digest), strempty(t->error_name),
                             strempty(t->error_message));
        if (streq(t->state, "done") && (image_path = image_bus_path(t->reference)))
                (void) BUS_EMIT(&m->polkit, sd_bus_emit_interfaces_added(m->bus, image_path, IMAGE_INTERFACE, NULL));
        (void) BUS_EMIT(&m->polkit, sd_bus_emit_interfaces_removed(m->bus, t->path, TRANSFER_INTERFACE, NULL));
        log_info("Transfer %" PRIu32 " of %s: %s%s%s", t->id, t->reference, t->state, t->error_message ? ": " : ".",
                 strempty(t->error_message));
        transfer_unlink(t);
        transfer_free(t);
}

static void on_pull_done(Pull *p, const ErrorInfo *error, void *userdata) {
        Transfer *t = userdata;

        if (error) {
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
                (void) bus_reply_error_info(&e, error);
                t->state = error->error == -ECANCELED ? "cancelled" : "failed";
                t->error_name = strdup(strempty(e.name));
                t->error_message = strdup(error->message);
        } else {
                t->state = "done";
                t->digest = strdup(pull_result(p)->digest);
                t->bytes_done = t->bytes_total;
        }
        transfer_run_loads(t, error);
        transfer_end(t);
}

static void on_pull_progress(Pull *p, uint64_t done, uint64_t total, void *userdata) {
        Transfer *t = userdata;
        usec_t now = now_usec(CLOCK_MONOTONIC);

        t->bytes_done = done;
        t->bytes_total = total;
        if (now - t->last_progress >= PROGRESS_INTERVAL_USEC || done == total) {
                t->last_progress = now;
                transfer_emit_progress(t);
        }
}

static int on_transfer_finish_later(sd_event_source *s, void *userdata) {
        Transfer *t = userdata;

        t->finish = sd_event_source_disable_unref(t->finish);
        transfer_run_loads(t, NULL);
        transfer_end(t);
        return 0;
}

static int transfer_new(Manager *m, const char *reference, Transfer **ret) {
        Transfer *t;

        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        t->manager = m;
        t->id = ++m->next_transfer_id;
        t->state = "running";
        t->reference = strdup(reference);
        if (!t->reference || asprintf(&t->path, TRANSFER_PATH_PREFIX "/%" PRIu32, t->id) < 0) {
                t->path = NULL;
                transfer_free(t);
                return -ENOMEM;
        }
        t->next = m->transfers;
        m->transfers = t;
        (void) BUS_EMIT(&m->polkit, sd_bus_emit_interfaces_added(m->bus, t->path, TRANSFER_INTERFACE, NULL));
        *ret = t;
        return 0;
}

/* A transfer for an image that is already in the store: reported finished
 * right after the method's reply. */
static int transfer_new_done(Manager *m, const char *reference, const char *digest, Transfer **ret) {
        Transfer *t;
        int r;

        r = transfer_new(m, reference, &t);
        if (r < 0)
                return r;
        t->state = "done";
        t->digest = strdup(digest);
        r = t->digest ? sd_event_add_defer(m->event, &t->finish, on_transfer_finish_later, t) : -ENOMEM;
        if (r < 0) {
                transfer_unlink(t);
                transfer_free(t);
                return r;
        }
        *ret = t;
        return 0;
}

static int transfer_start_pull(Manager *m, const ImageRef *ref, const RegistryCredentials *credentials, Transfer **ret,
                               sd_bus_error *error) {
        _cleanup_free_ char *reference = image_ref_to_string(ref);
        PullSettings settings = {
                .config_dir = m->config.config_dir,
                .runtime_dir = m->config.state_dir,
                .insecure = m->config.insecure_registries,
        };
        Transfer *t;
        int r;

        if (!reference)
                return -ENOMEM;
        t = transfer_find_running(m, reference);
        if (t) {
                *ret = t;
                return 0;
        }
        if (transfer_count(m) >= TRANSFERS_MAX)
                return sd_bus_error_setf(error, BUS_ERROR_LIMITS_EXCEEDED,
                                         "%d transfers are already running; try again when one has finished.", TRANSFERS_MAX);
        r = transfer_new(m, reference, &t);
        if (r < 0)
                return r;
        r = pull_new(m->http, m->images, &settings, ref, credentials, &t->pull);
        if (r >= 0)
                r = pull_start(t->pull, on_pull_done, on_pull_progress, t);
        if (r < 0) {
                (void) BUS_EMIT(&m->polkit, sd_bus_emit_interfaces_removed(m->bus, t->path, TRANSFER_INTERFACE, NULL));
                transfer_unlink(t);
                transfer_free(t);
                return sd_bus_error_set_errnof(error, r, "Could not start the pull of %s: %m", reference);
        }
        log_info("Transfer %" PRIu32 ": pulling %s.", t->id, reference);
        *ret = t;
        return 0;
}

int image_bus_check_source(const char *source, const char *pull_policy, const char *registry_auth,
                           sd_bus_error *error) {
        _cleanup_(image_ref_freep) ImageRef *ref = NULL;
        _cleanup_free_ char *dir = NULL, *tag = NULL;
        _cleanup_(registry_credentials_done) RegistryCredentials creds = {};
        ErrorInfo e;
        int r;

        if (pull_policy && pull_policy_from_string(pull_policy) < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Unknown pull policy '%s' (Always, IfNotPresent, Never).", pull_policy);
        if (registry_auth) {
                r = registry_credentials_from_base64(registry_auth, &creds, &e);
                if (r < 0)
                        return bus_reply_error_info(error, &e);
        }
        switch (image_source_kind(source)) {
        case IMAGE_SOURCE_OCI_LAYOUT:
                r = oci_layout_source_parse(source, &dir, &tag, &e);
                break;
        case IMAGE_SOURCE_REGISTRY:
                /* "prog.o" would parse as docker.io/library/prog.o: almost
                 * certainly a relative file path, which the daemon cannot use. */
                if ((strlen(source) > 2 && streq(source + strlen(source) - 2, ".o")) || source[0] == '.')
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "'%s' looks like a relative file path; give the object's absolute path "
                                                 "(or a registry reference with a tag).", source);
                r = image_ref_parse(source, &ref, &e);
                break;
        default:
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "'%s' is a file, not an image.", source);
        }
        return r < 0 ? bus_reply_error_info(error, &e) : 0;
}

/* Resolves a source to a stored image, importing an OCI layout right away.
 * Returns 1 with *ret filled when the image is in the store and may be used
 * under the policy, 0 when it must be pulled (*ret_ref set). */
static int resolve_source(Manager *m, const char *source, PullPolicy policy, StoredImage *ret, ImageRef **ret_ref,
                          sd_bus_error *error) {
        _cleanup_(image_ref_freep) ImageRef *ref = NULL;
        _cleanup_free_ char *full = NULL;
        ErrorInfo e;
        int r;

        if (image_source_kind(source) == IMAGE_SOURCE_OCI_LAYOUT) {
                _cleanup_free_ char *dir = NULL, *tag = NULL;
                r = oci_layout_source_parse(source, &dir, &tag, &e);
                if (r >= 0)
                        r = image_import_oci_layout(m->images, dir, tag, ret, &e);
                if (r < 0)
                        return bus_reply_error_info(error, &e);
                return 1;
        }

        r = image_ref_parse(source, &ref, &e);
        if (r < 0)
                return bus_reply_error_info(error, &e);
        full = image_ref_to_string(ref);
        if (!full)
                return -ENOMEM;
        if (policy != PULL_ALWAYS) {
                r = image_store_find(m->images, full, ret);
                if (r >= 0)
                        return 1;
                if (r != -ENOENT)
                        return sd_bus_error_set_errnof(error, r, "Could not read the image store: %m");
                if (policy == PULL_NEVER)
                        return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_IMAGE,
                                                 "%s is not in the image store and the pull policy is Never.", full);
        }
        *ret_ref = TAKE_PTR(ref);
        return 0;
}

static PullPolicy policy_or_default(const char *s) {
        return s ? pull_policy_from_string(s) : PULL_IF_NOT_PRESENT;
}

int image_bus_prepare_load(Manager *m, sd_bus_message *msg, LoadRequest *req, const char *source,
                           const char *pull_policy, const char *registry_auth, int *ret_object_fd,
                           sd_bus_error *error) {
        _cleanup_(stored_image_done) StoredImage img = {};
        _cleanup_(image_ref_freep) ImageRef *ref = NULL;
        _cleanup_(image_info_freep) ImageInfo *info = NULL;
        _cleanup_(registry_credentials_done) RegistryCredentials creds = {};
        _cleanup_close_ int fd = -EBADF;
        PendingLoad *pending;
        Transfer *t;
        ErrorInfo e;
        int r;

        req->image_reference = strdup(source);
        if (!req->image_reference)
                return -ENOMEM;

        r = resolve_source(m, source, policy_or_default(pull_policy), &img, &ref, error);
        if (r < 0)
                return r;
        if (r > 0) {
                r = image_info_load(m->images, &img, &info, &e);
                if (r >= 0)
                        r = check_programs_offered(info->config, req, &e);
                if (r >= 0)
                        r = image_open_bytecode(m->images, info, &fd, &e);
                if (r < 0)
                        return bus_reply_error_info(error, &e);
                /* Record the canonical reference, as the store names the image. */
                free(req->path);
                free(req->image_reference);
                req->image_reference = strdup(img.reference);
                req->image_digest = strdup(img.digest);
                if (!req->image_reference || !req->image_digest || asprintf(&req->path, "/proc/self/fd/%d", fd) < 0) {
                        req->path = NULL;
                        return -ENOMEM;
                }
                *ret_object_fd = TAKE_FD(fd);
                return 1;
        }

        if (registry_auth && registry_credentials_from_base64(registry_auth, &creds, &e) < 0)
                return bus_reply_error_info(error, &e);
        r = transfer_start_pull(m, ref, registry_auth ? &creds : NULL, &t, error);
        if (r < 0)
                return r;
        pending = calloc(1, sizeof(*pending));
        if (!pending)
                return -ENOMEM;
        transfer_add_requester(t, msg);
        pending->msg = sd_bus_message_ref(msg);
        pending->req = *req;
        *req = (LoadRequest) {};
        pending->next = t->loads;
        t->loads = pending;
        return 0;
}

typedef struct PullOptions {
        char *pull_policy;
        char *registry_auth;
} PullOptions;

static const BusOption pull_options[] = {
        { "pull_policy",   "s", bus_option_string, offsetof(PullOptions, pull_policy) },
        { "registry_auth", "s", bus_option_string, offsetof(PullOptions, registry_auth) },
        {}
};

static void pull_options_done(PullOptions *o) {
        o->pull_policy = mfree(o->pull_policy);
        if (o->registry_auth)
                explicit_bzero(o->registry_auth, strlen(o->registry_auth));
        o->registry_auth = mfree(o->registry_auth);
}

static const BusOption no_options[] = { {} };

typedef struct PruneOptions {
        bool all;
} PruneOptions;

static const BusOption prune_options[] = {
        { "all", "b", bus_option_bool, offsetof(PruneOptions, all) },
        {}
};

static int reply_transfer(sd_bus_message *msg, Transfer *t) {
        transfer_add_requester(t, msg);
        return sd_bus_reply_method_return(msg, "uo", t->id, t->path);
}

int method_pull_image(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = ASSERT_PTR(userdata);
        _cleanup_(pull_options_done) PullOptions opts = {};
        _cleanup_(stored_image_done) StoredImage img = {};
        _cleanup_(image_ref_freep) ImageRef *ref = NULL;
        _cleanup_(registry_credentials_done) RegistryCredentials creds = {};
        const char *source;
        PullPolicy policy;
        Transfer *t;
        ErrorInfo e;
        int r;

        r = sd_bus_message_read(msg, "s", &source);
        if (r < 0)
                return r;
        r = bus_read_options(msg, pull_options, &opts, error);
        if (r < 0)
                return r;
        r = bus_check_string(source, "The image reference", error);
        if (r < 0)
                return r;
        const char *pull_policy = opts.pull_policy, *registry_auth = opts.registry_auth;
        r = image_bus_check_source(source, pull_policy, registry_auth, error);
        if (r < 0)
                return r;
        policy = policy_or_default(pull_policy);

        const char *details[] = { "reference", source, "pull_policy", pull_policy_to_string(policy), NULL };
        r = bus_verify_polkit_async(&m->polkit, msg, POLKIT_ACTION_PULL_IMAGES, details, error);
        if (r <= 0)
                return r < 0 ? r : 1; /* 0: will be called again once polkit answered */

        r = resolve_source(m, source, policy, &img, &ref, error);
        if (r < 0)
                return r;
        if (r > 0) {
                r = transfer_new_done(m, img.reference, img.digest, &t);
                if (r < 0)
                        return r;
                return reply_transfer(msg, t);
        }
        if (registry_auth && registry_credentials_from_base64(registry_auth, &creds, &e) < 0)
                return bus_reply_error_info(error, &e);
        r = transfer_start_pull(m, ref, registry_auth ? &creds : NULL, &t, error);
        if (r < 0)
                return r;
        return reply_transfer(msg, t);
}

static size_t image_users(Manager *m, const StoredImage *img, uint32_t **ret) {
        uint32_t *ids = calloc(m->state->n_programs + 1, sizeof(uint32_t));
        size_t n = 0;

        for (size_t i = 0; ids && i < m->state->n_programs; i++) {
                const Program *p = m->state->programs[i];
                if (p->image_digest && streq(p->image_digest, img->digest) && streq_ptr(p->path, img->reference))
                        ids[n++] = p->id;
        }
        *ret = ids;
        return n;
}

static int image_json(Manager *m, const StoredImage *img, json_object **ret, ErrorInfo *e) {
        _cleanup_(image_info_freep) ImageInfo *info = NULL;
        _cleanup_free_ uint32_t *users = NULL;
        size_t n;
        int r;

        r = image_info_load(m->images, img, &info, e);
        if (r < 0)
                return r;
        n = image_users(m, img, &users);
        if (!users)
                return error_info_set(e, ENOMEM, NULL, "Out of memory.");
        r = image_info_to_json(info, users, n, ret);
        return r < 0 ? error_info_set(e, r, NULL, "Out of memory.") : 0;
}

int method_list_images(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = ASSERT_PTR(userdata);
        StoredImage *images = NULL;
        json_object *array;
        size_t n = 0;
        int r;

        r = bus_read_options(msg, no_options, NULL, error);
        if (r < 0)
                return r;
        r = bus_verify_polkit_async(&m->polkit, msg, POLKIT_ACTION_INSPECT, NULL, error);
        if (r <= 0)
                return r < 0 ? r : 1;

        r = image_store_list(m->images, &images, &n);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Could not read the image store: %m");
        array = json_object_new_array();
        for (size_t i = 0; array && i < n; i++) {
                json_object *j;
                ErrorInfo e;
                if (image_json(m, &images[i], &j, &e) < 0) {
                        /* A damaged entry is still listed, with what is wrong. */
                        j = json_object_new_object();
                        json_object_object_add(j, "reference", json_object_new_string(images[i].reference));
                        json_object_object_add(j, "digest", json_object_new_string(images[i].digest));
                        json_object_object_add(j, "error", json_object_new_string(e.message));
                }
                json_object_array_add(array, j);
        }
        stored_image_array_free(images, n);
        if (!array)
                return -ENOMEM;
        return bus_reply_json(msg, array);
}

static int find_image(Manager *m, const char *name, StoredImage *ret, sd_bus_error *error) {
        _cleanup_(image_ref_freep) ImageRef *ref = NULL;
        _cleanup_free_ char *full = NULL;
        ErrorInfo e;
        int r;

        r = bus_check_string(name, "The image name", error);
        if (r < 0)
                return r;
        r = image_store_find(m->images, name, ret);
        if (r == -ENOENT && !startswith(name, "oci:") && !digest_is_valid(name) && image_ref_parse(name, &ref, &e) >= 0 &&
            (full = image_ref_to_string(ref)))
                r = image_store_find(m->images, full, ret);
        if (r == -ENOENT)
                return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_IMAGE, "No image %s in the store.", name);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Could not read the image store: %m");
        return 0;
}

int method_get_image(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = ASSERT_PTR(userdata);
        _cleanup_(stored_image_done) StoredImage img = {};
        const char *name;
        json_object *j;
        ErrorInfo e;
        int r;

        r = sd_bus_message_read(msg, "s", &name);
        if (r < 0)
                return r;
        r = bus_verify_polkit_async(&m->polkit, msg, POLKIT_ACTION_INSPECT, NULL, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = find_image(m, name, &img, error);
        if (r < 0)
                return r;
        r = image_json(m, &img, &j, &e);
        if (r < 0)
                return bus_reply_error_info(error, &e);
        return bus_reply_json(msg, j);
}

static int remove_image(Manager *m, const StoredImage *img, sd_bus_error *error) {
        _cleanup_free_ uint32_t *users = NULL;
        _cleanup_free_ char *path = NULL;
        size_t n;
        int r;

        n = image_users(m, img, &users);
        if (!users)
                return -ENOMEM;
        if (n > 0) {
                char ids[256] = "";
                size_t used = 0;
                for (size_t i = 0; i < n && used < sizeof ids - 12; i++)
                        used += (size_t) snprintf(ids + used, sizeof ids - used, "%s%" PRIu32, i ? ", " : "", users[i]);
                return sd_bus_error_setf(error, BUS_ERROR_IMAGE_IN_USE,
                                         "%s is in use by loaded program%s %s; unload %s first.", img->reference,
                                         n > 1 ? "s" : "", ids, n > 1 ? "them" : "it");
        }
        path = image_bus_path(img->reference);
        r = image_store_remove(m->images, img->reference);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Could not remove %s from the image store: %m", img->reference);
        if (path)
                (void) BUS_EMIT(&m->polkit, sd_bus_emit_interfaces_removed(m->bus, path, IMAGE_INTERFACE, NULL));
        log_info("Removed image %s (%s).", img->reference, img->digest);
        return 0;
}

static int prune(Manager *m, uint64_t *ret_freed, unsigned *ret_removed, sd_bus_error *error) {
        _cleanup_strv_free_ char **keep = NULL;
        int r;

        for (Transfer *t = m->transfers; t; t = t->next) {
                _cleanup_strv_free_ char **d = t->pull ? pull_pending_digests(t->pull) : NULL;
                STRV_FOREACH(i, d)
                        if (strv_extend(&keep, *i) < 0)
                                return -ENOMEM;
        }
        r = image_store_prune_blobs(m->images, keep, ret_freed, ret_removed);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Could not prune the image store: %m");
        return 0;
}

int method_remove_image(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = ASSERT_PTR(userdata);
        _cleanup_(stored_image_done) StoredImage img = {};
        const char *name;
        int r;

        r = sd_bus_message_read(msg, "s", &name);
        if (r < 0)
                return r;
        r = bus_check_string(name, "The image name", error);
        if (r < 0)
                return r;
        /* Authorize before looking: an unauthorized caller learns nothing about the store. */
        const char *details[] = { "reference", name, NULL };
        r = bus_verify_polkit_async(&m->polkit, msg, POLKIT_ACTION_MANAGE_IMAGES, details, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = find_image(m, name, &img, error);
        if (r < 0)
                return r;
        r = remove_image(m, &img, error);
        if (r < 0)
                return r;
        /* Its blobs go now unless another image shares them. */
        r = prune(m, NULL, NULL, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(msg, NULL);
}

int method_prune_images(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = ASSERT_PTR(userdata);
        unsigned removed = 0, images_removed = 0;
        uint64_t freed = 0;
        PruneOptions opts = {};
        int r;

        r = bus_read_options(msg, prune_options, &opts, error);
        if (r < 0)
                return r;
        r = bus_verify_polkit_async(&m->polkit, msg, POLKIT_ACTION_MANAGE_IMAGES, NULL, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        if (opts.all) {
                StoredImage *images;
                size_t n;
                r = image_store_list(m->images, &images, &n);
                if (r < 0)
                        return sd_bus_error_set_errnof(error, r, "Could not read the image store: %m");
                for (size_t i = 0; i < n; i++) {
                        _cleanup_free_ uint32_t *users = NULL;
                        if (image_users(m, &images[i], &users) == 0 && users &&
                            remove_image(m, &images[i], NULL) >= 0)
                                images_removed++;
                }
                stored_image_array_free(images, n);
        }
        r = prune(m, &freed, &removed, error);
        if (r < 0)
                return r;
        log_info("Pruned %u image(s), %u blob(s), %" PRIu64 " bytes.", images_removed, removed, freed);
        return sd_bus_reply_method_return(msg, "uut", images_removed, removed, freed);
}

/* Transfer1 objects */

/* Transfers are visible to inspectors, and each to the callers it works
 * for (who get its signals too). */
static bool transfer_visible(Manager *m, Transfer *t, sd_bus *bus) {
        sd_bus_message *msg = sd_bus_get_current_message(bus);
        const char *sender = msg ? sd_bus_message_get_sender(msg) : NULL;

        return bus_may_inspect(&m->polkit, bus) || (sender && strv_contains(t->requesters, sender));
}

static int transfer_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                                sd_bus_error *error) {
        Manager *m = ASSERT_PTR(userdata);
        const char *id = startswith(path, TRANSFER_PATH_PREFIX "/");
        Transfer *t;
        char *end;
        unsigned long v;

        if (!id || !*id)
                return 0;
        errno = 0;
        v = strtoul(id, &end, 10);
        if (errno != 0 || *end || v > UINT32_MAX)
                return 0;
        t = transfer_find(m, (uint32_t) v);
        if (!t || !transfer_visible(m, t, bus))
                return 0;
        *found = t;
        return 1;
}

static int transfer_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error) {
        Manager *m = ASSERT_PTR(userdata);
        _cleanup_strv_free_ char **l = NULL;

        for (Transfer *t = m->transfers; t; t = t->next)
                if (transfer_visible(m, t, bus) && strv_extend(&l, t->path) < 0)
                        return -ENOMEM;
        *nodes = TAKE_PTR(l);
        return 1;
}

static int property_get_transfer(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Transfer *t = ASSERT_PTR(userdata);

        if (streq(property, "Id"))
                return sd_bus_message_append(reply, "u", t->id);
        if (streq(property, "Reference"))
                return sd_bus_message_append(reply, "s", t->reference);
        if (streq(property, "State"))
                return sd_bus_message_append(reply, "s", t->state);
        if (streq(property, "BytesDone"))
                return sd_bus_message_append(reply, "t", t->bytes_done);
        if (streq(property, "BytesTotal"))
                return sd_bus_message_append(reply, "t", t->bytes_total);
        if (streq(property, "Digest"))
                return sd_bus_message_append(reply, "s", strempty(t->digest));
        return -ENOENT;
}

static int method_transfer_cancel(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Transfer *t = ASSERT_PTR(userdata);
        Manager *m = t->manager;
        int r;

        const char *details[] = { "reference", t->reference, NULL };
        r = bus_verify_polkit_async(&m->polkit, msg, POLKIT_ACTION_PULL_IMAGES, details, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        /* The transfer may have ended while polkit was asked. */
        if (!transfer_find(m, t->id) || !t->pull)
                return sd_bus_error_setf(error, SD_BUS_ERROR_UNKNOWN_OBJECT, "The transfer has already finished.");
        pull_cancel(t->pull);
        return sd_bus_reply_method_return(msg, NULL);
}

static const sd_bus_vtable transfer_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Id", "u", property_get_transfer, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Reference", "s", property_get_transfer, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("State", "s", property_get_transfer, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("BytesDone", "t", property_get_transfer, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("BytesTotal", "t", property_get_transfer, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Digest", "s", property_get_transfer, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("Cancel", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_transfer_cancel,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("Progress", SD_BUS_ARGS("t", bytes_done, "t", bytes_total), 0),
        SD_BUS_SIGNAL_WITH_ARGS("Finished",
                                SD_BUS_ARGS("s", state, "s", digest, "s", error_name, "s", error_message),
                                0),
        SD_BUS_VTABLE_END
};

/* Image1 objects: one per index.json entry, named by the escaped reference. */

static int image_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                             sd_bus_error *error) {
        Manager *m = ASSERT_PTR(userdata);
        _cleanup_free_ char *reference = NULL;
        StoredImage img = {};

        if (sd_bus_path_decode(path, IMAGE_PATH_PREFIX, &reference) <= 0 || isempty(reference))
                return 0;
        if (!bus_may_inspect(&m->polkit, bus))
                return 0;
        if (image_store_find(m->images, reference, &img) < 0 || !streq(img.reference, reference)) {
                stored_image_done(&img);
                return 0;
        }
        stored_image_done(&img);
        *found = m;
        return 1;
}

static int image_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error) {
        Manager *m = ASSERT_PTR(userdata);
        _cleanup_strv_free_ char **l = NULL;
        StoredImage *images;
        size_t n;
        int r;

        if (!bus_may_inspect(&m->polkit, bus)) {
                *nodes = NULL;
                return 0;
        }

        r = image_store_list(m->images, &images, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n && r >= 0; i++) {
                char *p = image_bus_path(images[i].reference);
                r = p ? strv_push(&l, p) : -ENOMEM;
        }
        stored_image_array_free(images, n);
        if (r < 0)
                return r;
        *nodes = TAKE_PTR(l);
        return 1;
}

static int append_pairs(sd_bus_message *reply, char **pairs) {
        int r = sd_bus_message_open_container(reply, 'a', "{ss}");
        for (size_t i = 0; r >= 0 && pairs && pairs[i] && pairs[i + 1]; i += 2)
                r = sd_bus_message_append(reply, "{ss}", pairs[i], pairs[i + 1]);
        return r < 0 ? r : sd_bus_message_close_container(reply);
}

static int property_get_image(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = ASSERT_PTR(userdata);
        _cleanup_free_ char *reference = NULL;
        _cleanup_(stored_image_done) StoredImage img = {};
        _cleanup_(image_info_freep) ImageInfo *info = NULL;
        ErrorInfo e;
        int r;

        if (sd_bus_path_decode(path, IMAGE_PATH_PREFIX, &reference) <= 0)
                return -ENOENT;
        r = image_store_find(m->images, reference, &img);
        if (r < 0)
                return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_IMAGE, "No image %s in the store.", reference);
        if (streq(property, "Reference"))
                return sd_bus_message_append(reply, "s", img.reference);
        if (streq(property, "Digest"))
                return sd_bus_message_append(reply, "s", img.digest);
        if (streq(property, "PulledUSec"))
                return sd_bus_message_append(reply, "t", img.pulled_usec);
        if (streq(property, "UsedBy")) {
                _cleanup_free_ uint32_t *users = NULL;
                size_t n = image_users(m, &img, &users);
                if (!users)
                        return -ENOMEM;
                return sd_bus_message_append_array(reply, 'u', users, n * sizeof(uint32_t));
        }
        r = image_info_load(m->images, &img, &info, &e);
        if (r < 0)
                return bus_reply_error_info(error, &e);
        if (streq(property, "Format"))
                return sd_bus_message_append(reply, "s", image_format_to_string(info->format));
        if (streq(property, "Size"))
                return sd_bus_message_append(reply, "t", info->total_size);
        if (streq(property, "Architecture"))
                return sd_bus_message_append(reply, "s", strempty(info->config->architecture));
        if (streq(property, "Programs"))
                return append_pairs(reply, info->config->programs);
        if (streq(property, "Maps"))
                return append_pairs(reply, info->config->maps);
        return -ENOENT;
}

static int method_image_remove(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = ASSERT_PTR(userdata);
        _cleanup_free_ char *reference = NULL;
        _cleanup_(stored_image_done) StoredImage img = {};
        int r;

        if (sd_bus_path_decode(sd_bus_message_get_path(msg), IMAGE_PATH_PREFIX, &reference) <= 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_UNKNOWN_OBJECT, "No such image object.");
        const char *details[] = { "reference", reference, NULL };
        r = bus_verify_polkit_async(&m->polkit, msg, POLKIT_ACTION_MANAGE_IMAGES, details, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = find_image(m, reference, &img, error);
        if (r >= 0)
                r = remove_image(m, &img, error);
        if (r >= 0)
                r = prune(m, NULL, NULL, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(msg, NULL);
}

static const sd_bus_vtable image_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Reference", "s", property_get_image, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Digest", "s", property_get_image, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Format", "s", property_get_image, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Size", "t", property_get_image, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Architecture", "s", property_get_image, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("PulledUSec", "t", property_get_image, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Programs", "a{ss}", property_get_image, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Maps", "a{ss}", property_get_image, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("UsedBy", "au", property_get_image, 0, SD_BUS_VTABLE_PROPERTY_EMITS_INVALIDATION),
        SD_BUS_METHOD_WITH_ARGS("Remove", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_image_remove,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};

int image_bus_register(Manager *m) {
        int r;

        r = sd_bus_add_fallback_vtable(m->bus, NULL, TRANSFER_PATH_PREFIX, TRANSFER_INTERFACE, transfer_vtable,
                                       transfer_object_find, m);
        if (r < 0)
                return log_error_errno(r, "Failed to register transfer objects: %m");
        r = sd_bus_add_node_enumerator(m->bus, NULL, TRANSFER_PATH_PREFIX, transfer_node_enumerator, m);
        if (r < 0)
                return r;
        r = sd_bus_add_fallback_vtable(m->bus, NULL, IMAGE_PATH_PREFIX, IMAGE_INTERFACE, image_vtable, image_object_find, m);
        if (r < 0)
                return log_error_errno(r, "Failed to register image objects: %m");
        return sd_bus_add_node_enumerator(m->bus, NULL, IMAGE_PATH_PREFIX, image_node_enumerator, m);
}

void image_bus_done(Manager *m) {
        while (m->transfers) {
                Transfer *t = m->transfers;
                m->transfers = t->next;
                transfer_free(t);
        }
}
