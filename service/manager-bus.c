/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>

#include "bus-errors.h"
#include "bus-util.h"
#include "image-bus.h"
#include "inventory.h"
#include "log.h"
#include "manager-bus.h"
#include "program-bus.h"

#define METADATA_MAX 64
#define GLOBALS_MAX 64

static Manager *the_manager;

Manager *bus_manager(sd_bus *bus) {
        return ASSERT_PTR(the_manager);
}

static int option_u32(sd_bus_message *msg, const char *key, void *target, sd_bus_error *error) {
        return sd_bus_message_read(msg, "u", target);
}

static int option_i32(sd_bus_message *msg, const char *key, void *target, sd_bus_error *error) {
        return sd_bus_message_read(msg, "i", target);
}

static int option_u64(sd_bus_message *msg, const char *key, void *target, sd_bus_error *error) {
        return sd_bus_message_read(msg, "t", target);
}


static int option_strv(sd_bus_message *msg, const char *key, void *target, sd_bus_error *error) {
        char ***field = target;
        _cleanup_strv_free_ char **l = NULL;
        int r = sd_bus_message_read_strv(msg, &l);

        if (r < 0)
                return r;
        if (strv_length(l) > METADATA_MAX)
                return sd_bus_error_setf(error, BUS_ERROR_LIMITS_EXCEEDED, "At most %d entries in '%s'.", METADATA_MAX, key);
        STRV_FOREACH(i, l) {
                r = bus_check_string(*i, key, error);
                if (r < 0)
                        return r;
        }
        strv_free(*field);
        *field = TAKE_PTR(l);
        return 0;
}

/* a{ss} → "k=v" list. */
static int option_metadata(sd_bus_message *msg, const char *key, void *target, sd_bus_error *error) {
        char ***field = target;
        const char *k, *v;
        int r;

        r = sd_bus_message_enter_container(msg, 'a', "{ss}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(msg, "{ss}", &k, &v)) > 0) {
                char *kv;
                if (strv_length(*field) >= METADATA_MAX)
                        return sd_bus_error_setf(error, BUS_ERROR_LIMITS_EXCEEDED, "At most %d metadata entries.", METADATA_MAX);
                if (isempty(k) || strchr(k, '=') || strlen(k) > 256 || strlen(v) > 1024)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "Metadata keys must be 1-256 bytes without '=', values at most 1024 bytes.");
                kv = strjoin(k, "=", v);
                r = kv ? strv_push(field, kv) : -ENOMEM;
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(msg);
}

typedef struct LoadOptions {
        char **globals;
        char **metadata;
        char *group;
        uint32_t map_owner_id;
        char *pull_policy;
        char *registry_auth;
} LoadOptions;

static const BusOption load_options[] = {
        { "globals",      "as",    option_strv,     offsetof(LoadOptions, globals) },
        { "metadata",     "a{ss}", option_metadata, offsetof(LoadOptions, metadata) },
        { "group",        "s",     bus_option_string,   offsetof(LoadOptions, group) },
        { "map_owner_id", "u",     option_u32,      offsetof(LoadOptions, map_owner_id) },
        { "pull_policy",  "s",     bus_option_string,   offsetof(LoadOptions, pull_policy) },
        { "registry_auth", "s",    bus_option_string,   offsetof(LoadOptions, registry_auth) },
        {}
};

static int method_load(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = ASSERT_PTR(userdata);
        _cleanup_(load_request_done) LoadRequest req = {};
        LoadOptions opts = {};
        const char *source, *name, *type, *func;
        int r;

        r = sd_bus_message_read(msg, "s", &source);
        if (r < 0)
                return r;
        r = bus_check_string(source, "source", error);
        if (r < 0)
                return r;
        if (image_source_kind(source) == IMAGE_SOURCE_FILE) {
                req.path = strdup(source);
                if (!req.path)
                        return -ENOMEM;
        }

        r = sd_bus_message_enter_container(msg, 'a', "(sss)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(msg, "(sss)", &name, &type, &func)) > 0) {
                ProgramSpec *specs;
                ProgramType t = program_type_from_string(type);

                if (req.n_programs >= LOAD_PROGRAMS_MAX)
                        return sd_bus_error_setf(error, BUS_ERROR_LIMITS_EXCEEDED, "At most %d programs per load.", LOAD_PROGRAMS_MAX);
                if (t < 0)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "Unknown program type '%s' (xdp, tc, tcx, tracepoint, kprobe, uprobe, fentry, fexit, cgroup).", type);
                if (isempty(name) || strlen(name) > 255)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Program names must be 1-255 bytes.");
                if (strlen(func) > 255)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Function names must be at most 255 bytes.");
                specs = reallocarray(req.programs, req.n_programs + 1, sizeof(ProgramSpec));
                if (!specs)
                        return -ENOMEM;
                req.programs = specs;
                specs[req.n_programs] = (ProgramSpec) { .name = strdup(name), .type = t,
                                                        .attach_func = isempty(func) ? NULL : strdup(func) };
                if (!specs[req.n_programs].name)
                        return -ENOMEM;
                req.n_programs++;
        }
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(msg);
        if (r < 0)
                return r;
        if (req.n_programs == 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "No programs to load.");

        r = bus_read_options(msg, load_options, &opts, error);
        if (r >= 0 && strv_length(opts.globals) > GLOBALS_MAX)
                r = sd_bus_error_setf(error, BUS_ERROR_LIMITS_EXCEEDED, "At most %d globals.", GLOBALS_MAX);
        if (r >= 0) {
                req.metadata = TAKE_PTR(opts.metadata);
                req.group = TAKE_PTR(opts.group);
                req.map_owner_id = opts.map_owner_id;
                req.globals = calloc(strv_length(opts.globals) + 1, sizeof(GlobalValue));
                if (!req.globals)
                        r = -ENOMEM;
                STRV_FOREACH(g, opts.globals) {
                        if (r < 0)
                                break;
                        if (global_value_parse(*g, &req.globals[req.n_globals]) < 0)
                                r = sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                      "Invalid global '%s': expected NAME=HEX with an even number of hex digits.", *g);
                        else
                                req.n_globals++;
                }
        }
        _cleanup_free_ char *pull_policy = TAKE_PTR(opts.pull_policy);
        _cleanup_free_ char *registry_auth = opts.registry_auth;
        opts.registry_auth = NULL;
        strv_free(opts.globals);
        strv_free(opts.metadata);
        free(opts.group);
        if (r >= 0 && !req.path)
                r = image_bus_check_source(source, pull_policy, registry_auth, error);
        else if (r >= 0 && (pull_policy || registry_auth))
                r = sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                      "pull_policy and registry_auth apply to images, not to the file %s.", source);
        if (r < 0) {
                if (registry_auth)
                        explicit_bzero(registry_auth, strlen(registry_auth));
                return r;
        }

        {
                _cleanup_free_ char *names = NULL, *types = NULL;
                for (size_t i = 0; i < req.n_programs; i++) {
                        char *a = strjoin(names ?: "", i ? "," : "", req.programs[i].name);
                        char *b = strjoin(types ?: "", i ? "," : "", program_type_to_string(req.programs[i].type));
                        free(names);
                        free(types);
                        names = a;
                        types = b;
                        if (!names || !types)
                                return -ENOMEM;
                }
                const char *details[] = { "source", source, "programs", names, "program_types", types,
                                          "group", strempty(req.group), NULL };
                r = bus_verify_polkit_async(&m->polkit, msg, POLKIT_ACTION_LOAD_PROGRAMS, details, error);
                if (r < 0)
                        return r;
                if (r == 0)
                        return 1; /* Will be called again once polkit answered. */
        }

        _cleanup_close_ int object_fd = -EBADF;
        if (!req.path) {
                r = image_bus_prepare_load(m, msg, &req, source, pull_policy, registry_auth, &object_fd, error);
                if (registry_auth)
                        explicit_bzero(registry_auth, strlen(registry_auth));
                if (r <= 0)
                        return r < 0 ? r : 1; /* 0: answered when the pull has finished */
        }
        return manager_bus_finish_load(m, msg, &req, error);
}

int manager_bus_finish_load(Manager *m, sd_bus_message *msg, LoadRequest *req, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ Program **progs = NULL;
        ErrorInfo err;
        size_t n = 0;
        int r;

        r = state_load(m->state, &m->features, req, &progs, &n, &err);
        if (r < 0) {
                log_debug("Load of %s failed: %s", load_request_origin(req), err.message);
                return bus_reply_error_info(error, &err);
        }

        r = sd_bus_message_new_method_return(msg, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(uo)");
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *path = program_bus_path(progs[i]->id);
                if (!path)
                        return -ENOMEM;
                r = sd_bus_message_append(reply, "(uo)", progs[i]->id, path);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                program_bus_emit_added(m, progs[i]->id);
        if (req->image_digest)
                image_bus_emit_used_by_changed(m, req->image_reference);
        log_info("Loaded %zu program(s) from %s, first id %" PRIu32 ".", n, load_request_origin(req), progs[0]->id);
        return sd_bus_send(NULL, reply, NULL);
}

static const BusOption attach_options[] = {
        { "iface",       "s",  bus_option_string, offsetof(Link, iface) },
        { "netns",       "s",  bus_option_string, offsetof(Link, netns) },
        { "direction",   "s",  bus_option_string, offsetof(Link, direction) },
        { "priority",    "i",  option_i32,    offsetof(Link, priority) },
        { "proceed_on",  "as", option_strv,   offsetof(Link, proceed_on) },
        { "mode",        "s",  bus_option_string, offsetof(Link, mode) },
        { "tracepoint",  "s",  bus_option_string, offsetof(Link, tracepoint) },
        { "function",    "s",  bus_option_string, offsetof(Link, function) },
        { "offset",      "t",  option_u64,    offsetof(Link, offset) },
        { "target",      "s",  bus_option_string, offsetof(Link, target) },
        { "pid",         "i",  option_i32,    offsetof(Link, pid) },
        { "cgroup",      "s",  bus_option_string, offsetof(Link, cgroup) },
        { "attach_type", "s",  bus_option_string, offsetof(Link, attach_type) },
        {}
};

static int method_attach(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = ASSERT_PTR(userdata);
        _cleanup_(link_freep) Link *l = NULL;
        _cleanup_free_ char *path = NULL, *prog_path = NULL;
        Link *attached = NULL;
        const char *kind;
        uint32_t program_id;
        ErrorInfo err;
        int r;

        r = sd_bus_message_read(msg, "us", &program_id, &kind);
        if (r < 0)
                return r;
        l = calloc(1, sizeof(Link));
        if (!l)
                return -ENOMEM;
        l->program_id = program_id;
        l->kind = link_kind_from_string(kind);
        l->priority = 1000; /* run last unless asked otherwise */
        if (l->kind < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Unknown attach kind '%s' (xdp, tc, tcx, tracepoint, kprobe, kretprobe, uprobe, "
                                         "uretprobe, fentry, fexit, cgroup).", kind);
        r = bus_read_options(msg, attach_options, l, error);
        if (r < 0)
                return r;

        {
                char id[16];
                (void) snprintf(id, sizeof id, "%" PRIu32, program_id);
                const char *details[] = { "program_id", id, "attach_kind", kind, "interface", strempty(l->iface),
                                          "direction", strempty(l->direction), "netns", strempty(l->netns),
                                          "cgroup", strempty(l->cgroup), "tracepoint", strempty(l->tracepoint),
                                          "function", strempty(l->function), "target", strempty(l->target), NULL };
                r = bus_verify_polkit_async(&m->polkit, msg, POLKIT_ACTION_LOAD_PROGRAMS, details, error);
                if (r < 0)
                        return r;
                if (r == 0)
                        return 1; /* Will be called again once polkit answered. */
        }

        r = state_attach(m->state, &m->features, TAKE_PTR(l), &attached, &err);
        if (r < 0) {
                log_debug("Attach of program %" PRIu32 " failed: %s", program_id, err.message);
                return bus_reply_error_info(error, &err);
        }
        path = link_bus_path(attached->id);
        prog_path = program_bus_path(program_id);
        if (!path || !prog_path)
                return -ENOMEM;
        link_bus_emit_added(m, attached->id);
        (void) BUS_EMIT(&m->polkit, sd_bus_emit_properties_changed(m->bus, prog_path, "org.bpfhub.Program1", "Links", NULL));
        log_info("Attached program %" PRIu32 " as %s (link %" PRIu32 ").", program_id, kind, attached->id);
        return sd_bus_reply_method_return(msg, "uo", attached->id, path);
}

int bus_detach_link(Manager *m, sd_bus_message *msg, uint32_t id, sd_bus_error *error) {
        _cleanup_free_ char *prog_path = NULL;
        Link *l;
        char id_str[16];
        int r;

        (void) snprintf(id_str, sizeof id_str, "%" PRIu32, id);
        r = bus_verify_polkit_async(&m->polkit, msg, POLKIT_ACTION_UNLOAD_PROGRAMS,
                                    (const char *const[]) { "link_id", id_str, NULL }, error);
        if (r <= 0)
                return r < 0 ? r : 1; /* 0: will be called again once polkit answered */
        l = state_find_link(m->state, id);
        if (!l)
                return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_LINK, "No link %" PRIu32 ".", id);
        prog_path = program_bus_path(l->program_id);
        if (!prog_path)
                return -ENOMEM;
        link_bus_emit_removed(m, id);
        r = state_detach(m->state, id);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Cannot detach link %" PRIu32 ": %m", id);
        (void) BUS_EMIT(&m->polkit, sd_bus_emit_properties_changed(m->bus, prog_path, "org.bpfhub.Program1", "Links", NULL));
        return sd_bus_reply_method_return(msg, NULL);
}

static int unload_one(Manager *m, uint32_t id, sd_bus_error *error) {
        _cleanup_free_ Link **links = NULL;
        _cleanup_free_ char *image = NULL;
        size_t n = state_program_links(m->state, id, &links);
        Program *p = state_find_program(m->state, id);
        int r;

        if (p && p->image_digest)
                image = strdup(p->path);
        for (size_t i = 0; i < n; i++)
                link_bus_emit_removed(m, links[i]->id);
        program_bus_emit_removed(m, id);
        r = state_unload(m->state, id);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Cannot unload program %" PRIu32 ": %m", id);
        if (image)
                image_bus_emit_used_by_changed(m, image);
        log_info("Unloaded program %" PRIu32 ".", id);
        return 0;
}

int bus_unload_program(Manager *m, sd_bus_message *msg, uint32_t id, sd_bus_error *error) {
        char id_str[16];
        int r;

        (void) snprintf(id_str, sizeof id_str, "%" PRIu32, id);
        r = bus_verify_polkit_async(&m->polkit, msg, POLKIT_ACTION_UNLOAD_PROGRAMS,
                                    (const char *const[]) { "program_id", id_str, NULL }, error);
        if (r <= 0)
                return r < 0 ? r : 1; /* 0: will be called again once polkit answered */
        if (!state_find_program(m->state, id))
                return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_PROGRAM, "No managed program %" PRIu32 ".", id);
        r = unload_one(m, id, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(msg, NULL);
}

static int method_detach(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        uint32_t id;
        int r = sd_bus_message_read(msg, "u", &id);

        if (r < 0)
                return r;
        return bus_detach_link(ASSERT_PTR(userdata), msg, id, error);
}

static int method_unload(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        uint32_t id;
        int r = sd_bus_message_read(msg, "u", &id);

        if (r < 0)
                return r;
        return bus_unload_program(ASSERT_PTR(userdata), msg, id, error);
}

static int method_unload_group(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = ASSERT_PTR(userdata);
        _cleanup_free_ uint32_t *ids = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *group;
        size_t n = 0;
        int r;

        r = sd_bus_message_read(msg, "s", &group);
        if (r < 0)
                return r;
        if (isempty(group))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "A group name is required.");
        r = bus_check_string(group, "group", error);
        if (r < 0)
                return r;
        r = bus_verify_polkit_async(&m->polkit, msg, POLKIT_ACTION_UNLOAD_PROGRAMS,
                                    (const char *const[]) { "group", group, NULL }, error);
        if (r <= 0)
                return r < 0 ? r : 1; /* 0: will be called again once polkit answered */
        ids = calloc(m->state->n_programs + 1, sizeof(uint32_t));
        if (!ids)
                return -ENOMEM;
        for (size_t i = 0; i < m->state->n_programs; i++)
                if (m->state->programs[i]->group && streq(m->state->programs[i]->group, group))
                        ids[n++] = m->state->programs[i]->id;
        if (n == 0)
                return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_PROGRAM, "No programs in group '%s'.", group);
        for (size_t i = 0; i < n; i++) {
                r = unload_one(m, ids[i], error);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_new_method_return(msg, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_append_array(reply, 'u', ids, n * sizeof(uint32_t));
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int option_program_type(sd_bus_message *msg, const char *key, void *target, sd_bus_error *error) {
        ProgramFilter *f = (ProgramFilter *) ((uint8_t *) target - offsetof(ProgramFilter, type));
        const char *v;
        int r = sd_bus_message_read(msg, "s", &v);

        if (r < 0)
                return r;
        f->type = program_type_from_string(v);
        if (f->type < 0) {
                /* Not a bpfhub type: maybe a kernel type name, for all=true. */
                if (strlen(v) > 64)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Unknown program type.");
                f->kernel_type = strdup(v);
                return f->kernel_type ? 0 : -ENOMEM;
        }
        return 0;
}

static const BusOption list_options[] = {
        { "type",     "s",     option_program_type, offsetof(ProgramFilter, type) },
        { "metadata", "a{ss}", option_metadata,     offsetof(ProgramFilter, metadata) },
        { "group",    "s",     bus_option_string,       offsetof(ProgramFilter, group) },
        { "all",      "b",     bus_option_bool,         offsetof(ProgramFilter, all) },
        { "iface",    "s",     bus_option_string,       offsetof(ProgramFilter, iface) },
        { "netns",    "s",     bus_option_string,       offsetof(ProgramFilter, netns) },
        {}
};


static int method_list_programs(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = ASSERT_PTR(userdata);
        _cleanup_(program_filter_done) ProgramFilter f = { .type = _PROGRAM_TYPE_INVALID };
        json_object *j;
        int r;

        r = bus_read_options(msg, list_options, &f, error);
        if (r < 0)
                return r;
        if (f.kernel_type && !f.all)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Unknown program type '%s' (kernel type names need all=true).", f.kernel_type);
        if (f.netns && !f.iface)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "netns applies only with iface.");
        if (f.iface && f.all)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "iface lists every program on the interface already; all does not combine with it.");
        r = bus_verify_polkit_async(&m->polkit, msg, POLKIT_ACTION_INSPECT, NULL, error);
        if (r <= 0)
                return r < 0 ? r : 1; /* 0: will be called again once polkit answered */
        if (f.iface) {
                ErrorInfo err;
                r = inventory_list_iface(m->state, &f, &j, &err);
                if (r < 0)
                        return bus_reply_error_info(error, &err);
        } else {
                r = inventory_list(m->state, &f, &j);
                if (r < 0)
                        return r;
        }
        return bus_reply_json(msg, j);
}

static int method_get_program(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = ASSERT_PTR(userdata);
        json_object *j;
        uint32_t id;
        int r;

        r = sd_bus_message_read(msg, "u", &id);
        if (r < 0)
                return r;
        r = bus_verify_polkit_async(&m->polkit, msg, POLKIT_ACTION_INSPECT, NULL, error);
        if (r <= 0)
                return r < 0 ? r : 1; /* 0: will be called again once polkit answered */
        r = inventory_get(m->state, id, &j);
        if (r == -ENOENT)
                return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_PROGRAM, "No managed program %" PRIu32 ".", id);
        if (r < 0)
                return r;
        return bus_reply_json(msg, j);
}

static int property_get_version(sd_bus *bus, const char *path, const char *interface,
                                const char *property, sd_bus_message *reply, void *userdata,
                                sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", PACKAGE_VERSION);
}

static int property_get_kernel_features(sd_bus *bus, const char *path, const char *interface,
                                        const char *property, sd_bus_message *reply,
                                        void *userdata, sd_bus_error *error) {
        Manager *m = ASSERT_PTR(userdata);
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(ssbs)");
        if (r < 0)
                return r;
        for (size_t i = 0; i < m->features.n_items; i++) {
                const KernelFeature *f = &m->features.items[i];
                r = sd_bus_message_append(reply, "(ssbs)", f->name, feature_kind_to_string(f->kind),
                                          f->supported, strempty(f->detail));
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

static int method_describe(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = ASSERT_PTR(userdata);
        json_object *j = NULL;
        int r;

        /* The configuration and counts are the daemon's state too. */
        r = bus_verify_polkit_async(&m->polkit, msg, POLKIT_ACTION_INSPECT, NULL, error);
        if (r <= 0)
                return r < 0 ? r : 1; /* 0: will be called again once polkit answered */

        r = manager_describe_json(m, &j);
        if (r < 0)
                return r;
        r = sd_bus_reply_method_return(msg, "s", json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(j);
        return r;
}

const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Version", "s", property_get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("KernelFeatures", "a(ssbs)", property_get_kernel_features, 0,
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_METHOD_WITH_ARGS("Describe",
                                SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("s", json),
                                method_describe,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Load",
                                SD_BUS_ARGS("s", source, "a(sss)", programs, "a{sv}", options),
                                SD_BUS_RESULT("a(uo)", loaded),
                                method_load,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Attach",
                                SD_BUS_ARGS("u", program_id, "s", kind, "a{sv}", options),
                                SD_BUS_RESULT("u", link_id, "o", link),
                                method_attach,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Detach",
                                SD_BUS_ARGS("u", link_id),
                                SD_BUS_NO_RESULT,
                                method_detach,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Unload",
                                SD_BUS_ARGS("u", program_id),
                                SD_BUS_NO_RESULT,
                                method_unload,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("UnloadGroup",
                                SD_BUS_ARGS("s", group),
                                SD_BUS_RESULT("au", unloaded),
                                method_unload_group,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListPrograms",
                                SD_BUS_ARGS("a{sv}", filter),
                                SD_BUS_RESULT("s", json),
                                method_list_programs,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetProgram",
                                SD_BUS_ARGS("u", program_id),
                                SD_BUS_RESULT("s", json),
                                method_get_program,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("PullImage",
                                SD_BUS_ARGS("s", reference, "a{sv}", options),
                                SD_BUS_RESULT("u", transfer_id, "o", transfer),
                                method_pull_image,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListImages",
                                SD_BUS_ARGS("a{sv}", filter),
                                SD_BUS_RESULT("s", json),
                                method_list_images,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetImage",
                                SD_BUS_ARGS("s", reference),
                                SD_BUS_RESULT("s", json),
                                method_get_image,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RemoveImage",
                                SD_BUS_ARGS("s", reference),
                                SD_BUS_NO_RESULT,
                                method_remove_image,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("PruneImages",
                                SD_BUS_ARGS("a{sv}", options),
                                SD_BUS_RESULT("u", images_removed, "u", blobs_removed, "t", bytes_freed),
                                method_prune_images,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};

int manager_bus_register(Manager *m) {
        int r;

        the_manager = m;
        r = program_bus_register(m);
        if (r < 0)
                return r;
        r = image_bus_register(m);
        if (r < 0)
                return r;

        r = sd_bus_add_object_vtable(m->bus, NULL, BPFHUB_MANAGER_PATH, BPFHUB_MANAGER_INTERFACE,
                                     manager_vtable, m);
        if (r < 0)
                return log_error_errno(r, "Failed to register manager object: %m");

        /* Program, link, image and transfer objects live below the manager
         * object; clients track them through this ObjectManager. */
        r = sd_bus_add_object_manager(m->bus, NULL, BPFHUB_MANAGER_PATH);
        if (r < 0)
                return log_error_errno(r, "Failed to add object manager: %m");
        return 0;
}
