/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* org.bpfhub.Program1 and org.bpfhub.Link1: one object per managed program
 * and per link, below the manager's ObjectManager. */
#include <inttypes.h>

#include "bus-errors.h"
#include "log.h"
#include "program-bus.h"

#define PROGRAM_PREFIX BPFHUB_MANAGER_PATH "/program/"
#define LINK_PREFIX BPFHUB_MANAGER_PATH "/link/"

char *program_bus_path(uint32_t id) {
        char *p;
        return asprintf(&p, PROGRAM_PREFIX "%" PRIu32, id) < 0 ? NULL : p;
}

char *link_bus_path(uint32_t id) {
        char *p;
        return asprintf(&p, LINK_PREFIX "%" PRIu32, id) < 0 ? NULL : p;
}

static int parse_id(const char *path, const char *prefix, uint32_t *ret) {
        const char *s = startswith(path, prefix);
        char *end;
        unsigned long v;

        if (!s || !*s || *s == '0')
                return -EINVAL;
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno || *end || v > UINT32_MAX)
                return -EINVAL;
        *ret = (uint32_t) v;
        return 0;
}

static int program_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata,
                               void **found, sd_bus_error *error) {
        Manager *m = ASSERT_PTR(userdata);
        uint32_t id;
        Program *p;

        if (parse_id(path, PROGRAM_PREFIX, &id) < 0)
                return 0;
        /* Unauthorized callers see no objects at all: nothing to read, nothing to enumerate. */
        if (!bus_may_inspect(&m->polkit, bus))
                return 0;
        p = state_find_program(m->state, id);
        if (!p)
                return 0;
        *found = p;
        return 1;
}

static int link_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata,
                            void **found, sd_bus_error *error) {
        Manager *m = ASSERT_PTR(userdata);
        uint32_t id;
        Link *l;

        if (parse_id(path, LINK_PREFIX, &id) < 0)
                return 0;
        /* Unauthorized callers see no objects at all: nothing to read, nothing to enumerate. */
        if (!bus_may_inspect(&m->polkit, bus))
                return 0;
        l = state_find_link(m->state, id);
        if (!l)
                return 0;
        *found = l;
        return 1;
}

static int program_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes,
                                   sd_bus_error *error) {
        Manager *m = ASSERT_PTR(userdata);
        _cleanup_strv_free_ char **l = NULL;
        int r;

        if (!bus_may_inspect(&m->polkit, bus)) {
                *nodes = NULL;
                return 0;
        }

        for (size_t i = 0; i < m->state->n_programs; i++) {
                char *p = program_bus_path(m->state->programs[i]->id);
                r = p ? strv_push(&l, p) : -ENOMEM;
                if (r < 0)
                        return r;
        }
        *nodes = TAKE_PTR(l);
        return 1;
}

static int link_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes,
                                sd_bus_error *error) {
        Manager *m = ASSERT_PTR(userdata);
        _cleanup_strv_free_ char **l = NULL;
        int r;

        if (!bus_may_inspect(&m->polkit, bus)) {
                *nodes = NULL;
                return 0;
        }

        for (size_t i = 0; i < m->state->n_links; i++) {
                char *p = link_bus_path(m->state->links[i]->id);
                r = p ? strv_push(&l, p) : -ENOMEM;
                if (r < 0)
                        return r;
        }
        *nodes = TAKE_PTR(l);
        return 1;
}

static int append_string(sd_bus_message *reply, const char *s) {
        return sd_bus_message_append(reply, "s", strempty(s));
}

static int property_get_program(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Program *p = ASSERT_PTR(userdata);

        if (streq(property, "Id"))
                return sd_bus_message_append(reply, "u", p->id);
        if (streq(property, "Name"))
                return append_string(reply, p->name);
        if (streq(property, "Type"))
                return append_string(reply, program_type_to_string(p->type));
        if (streq(property, "Source"))
                return append_string(reply, p->path);
        if (streq(property, "Group"))
                return append_string(reply, p->group);
        if (streq(property, "GroupId"))
                return sd_bus_message_append(reply, "u", p->group_id);
        if (streq(property, "MapOwnerId"))
                return sd_bus_message_append(reply, "u", p->map_owner_id);
        if (streq(property, "AttachFunction"))
                return append_string(reply, p->attach_func);
        if (streq(property, "LoadedUSec"))
                return sd_bus_message_append(reply, "t", p->loaded_usec);
        if (streq(property, "Globals"))
                return sd_bus_message_append_strv(reply, p->globals);
        if (streq(property, "Metadata")) {
                int r = sd_bus_message_open_container(reply, 'a', "{ss}");
                if (r < 0)
                        return r;
                STRV_FOREACH(kv, p->metadata) {
                        const char *eq = strchr(*kv, '=');
                        _cleanup_free_ char *k = strndup(*kv, eq ? (size_t) (eq - *kv) : strlen(*kv));
                        if (!k)
                                return -ENOMEM;
                        r = sd_bus_message_append(reply, "{ss}", k, eq ? eq + 1 : "");
                        if (r < 0)
                                return r;
                }
                return sd_bus_message_close_container(reply);
        }
        return -EINVAL;
}

/* The kernel state of one program for the message being answered: a
 * GetAll (or the InterfacesAdded of a load) asks for eleven properties, and
 * they all come from one info query. The reference on the message keeps its
 * address from being reused by another message while cached. */
static struct {
        sd_bus_message *message;
        uint32_t program_id;
        json_object *info;
} kernel_info_cache;

static int kernel_info_for_message(sd_bus *bus, uint32_t program_id, json_object **ret) {
        sd_bus_message *current = sd_bus_get_current_message(bus);
        json_object *info = NULL;
        int r;

        if (current && current == kernel_info_cache.message && program_id == kernel_info_cache.program_id) {
                *ret = kernel_info_cache.info;
                return 0;
        }
        r = program_kernel_info_by_id(program_id, &info);
        if (r < 0)
                return r;
        kernel_info_cache.message = sd_bus_message_unref(kernel_info_cache.message);
        json_object_put(kernel_info_cache.info);
        kernel_info_cache.message = sd_bus_message_ref(current);
        kernel_info_cache.program_id = program_id;
        kernel_info_cache.info = info;
        *ret = info;
        return 0;
}

/* Kernel state, read when asked: what `get` shows under "Kernel State". */
static int property_get_program_kernel(sd_bus *bus, const char *path, const char *interface, const char *property,
                                       sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Program *p = ASSERT_PTR(userdata);
        json_object *info = NULL, *v = NULL;
        const char *key;
        int r;

        key = streq(property, "KernelName") ? "name" :
              streq(property, "KernelType") ? "type" :
              streq(property, "Tag") ? "tag" :
              streq(property, "GplCompatible") ? "gpl" :
              streq(property, "KernelLoadedUSec") ? "loadedAtUSec" :
              streq(property, "MapIds") ? "mapIds" :
              streq(property, "BtfId") ? "btfId" :
              streq(property, "TranslatedBytes") ? "translatedBytes" :
              streq(property, "JitedBytes") ? "jitedBytes" :
              streq(property, "MemlockBytes") ? "memlockBytes" :
              streq(property, "VerifiedInstructions") ? "verifiedInstructions" : NULL;
        if (!key)
                return -EINVAL;
        r = kernel_info_for_message(bus, p->id, &info); /* owned by the cache */
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Cannot read kernel state of program %u: %m", p->id);
        (void) json_object_object_get_ex(info, key, &v);

        if (streq(key, "mapIds")) {
                r = sd_bus_message_open_container(reply, 'a', "u");
                for (size_t i = 0; r >= 0 && i < json_object_array_length(v); i++)
                        r = sd_bus_message_append(reply, "u", (uint32_t) json_object_get_uint64(json_object_array_get_idx(v, i)));
                if (r >= 0)
                        r = sd_bus_message_close_container(reply);
        } else if (streq(key, "name") || streq(key, "type") || streq(key, "tag"))
                r = sd_bus_message_append(reply, "s", strempty(json_object_get_string(v)));
        else if (streq(key, "gpl"))
                r = sd_bus_message_append(reply, "b", json_object_get_boolean(v));
        else if (streq(key, "memlockBytes"))
                r = sd_bus_message_append(reply, "x", json_object_get_int64(v));
        else if (streq(key, "loadedAtUSec"))
                r = sd_bus_message_append(reply, "t", json_object_get_uint64(v));
        else
                r = sd_bus_message_append(reply, "u", (uint32_t) json_object_get_uint64(v));
        return r;
}

static int property_get_program_links(sd_bus *bus, const char *path, const char *interface, const char *property,
                                      sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Program *p = ASSERT_PTR(userdata);
        Manager *m = bus_manager(bus);
        _cleanup_free_ Link **links = NULL;
        size_t n = state_program_links(m->state, p->id, &links);
        int r;

        r = sd_bus_message_open_container(reply, 'a', "o");
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *lp = link_bus_path(links[i]->id);
                if (!lp)
                        return -ENOMEM;
                r = sd_bus_message_append(reply, "o", lp);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

static int property_get_link(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Link *l = ASSERT_PTR(userdata);

        if (streq(property, "Id"))
                return sd_bus_message_append(reply, "u", l->id);
        if (streq(property, "ProgramId"))
                return sd_bus_message_append(reply, "u", l->program_id);
        if (streq(property, "Program")) {
                _cleanup_free_ char *pp = program_bus_path(l->program_id);
                return pp ? sd_bus_message_append(reply, "o", pp) : -ENOMEM;
        }
        if (streq(property, "Kind"))
                return append_string(reply, link_kind_to_string(l->kind));
        if (streq(property, "KernelLinkId"))
                return sd_bus_message_append(reply, "u", l->kernel_link_id);
        if (streq(property, "AttachedUSec"))
                return sd_bus_message_append(reply, "t", l->attached_usec);
        if (streq(property, "Details")) {
                json_object *j;
                int r = link_to_json(l, &j);
                if (r < 0)
                        return r;
                r = sd_bus_message_append(reply, "s",
                                          json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(j);
                return r;
        }
        return -EINVAL;
}

static int method_program_unload(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Program *p = ASSERT_PTR(userdata);

        return bus_unload_program(bus_manager(sd_bus_message_get_bus(msg)), msg, p->id, error);
}

static int method_link_detach(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Link *l = ASSERT_PTR(userdata);

        return bus_detach_link(bus_manager(sd_bus_message_get_bus(msg)), msg, l->id, error);
}

static const sd_bus_vtable program_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Id", "u", property_get_program, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Name", "s", property_get_program, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Type", "s", property_get_program, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Source", "s", property_get_program, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Group", "s", property_get_program, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("GroupId", "u", property_get_program, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("MapOwnerId", "u", property_get_program, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("AttachFunction", "s", property_get_program, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Metadata", "a{ss}", property_get_program, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Globals", "as", property_get_program, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("LoadedUSec", "t", property_get_program, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Links", "ao", property_get_program_links, 0, SD_BUS_VTABLE_PROPERTY_EMITS_INVALIDATION),
        SD_BUS_PROPERTY("KernelName", "s", property_get_program_kernel, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("KernelType", "s", property_get_program_kernel, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Tag", "s", property_get_program_kernel, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("GplCompatible", "b", property_get_program_kernel, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("KernelLoadedUSec", "t", property_get_program_kernel, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("MapIds", "au", property_get_program_kernel, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("BtfId", "u", property_get_program_kernel, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("TranslatedBytes", "u", property_get_program_kernel, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("JitedBytes", "u", property_get_program_kernel, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("MemlockBytes", "x", property_get_program_kernel, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("VerifiedInstructions", "u", property_get_program_kernel, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_METHOD_WITH_ARGS("Unload", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_program_unload,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};

static const sd_bus_vtable link_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Id", "u", property_get_link, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("ProgramId", "u", property_get_link, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Program", "o", property_get_link, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Kind", "s", property_get_link, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("KernelLinkId", "u", property_get_link, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("AttachedUSec", "t", property_get_link, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Details", "s", property_get_link, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_METHOD_WITH_ARGS("Detach", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_link_detach,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};

int program_bus_register(Manager *m) {
        int r;

        r = sd_bus_add_fallback_vtable(m->bus, NULL, BPFHUB_MANAGER_PATH "/program", "org.bpfhub.Program1",
                                       program_vtable, program_object_find, m);
        if (r < 0)
                return log_error_errno(r, "Failed to register program objects: %m");
        r = sd_bus_add_node_enumerator(m->bus, NULL, BPFHUB_MANAGER_PATH "/program", program_node_enumerator, m);
        if (r < 0)
                return log_error_errno(r, "Failed to register program enumerator: %m");
        r = sd_bus_add_fallback_vtable(m->bus, NULL, BPFHUB_MANAGER_PATH "/link", "org.bpfhub.Link1", link_vtable,
                                       link_object_find, m);
        if (r < 0)
                return log_error_errno(r, "Failed to register link objects: %m");
        r = sd_bus_add_node_enumerator(m->bus, NULL, BPFHUB_MANAGER_PATH "/link", link_node_enumerator, m);
        if (r < 0)
                return log_error_errno(r, "Failed to register link enumerator: %m");
        return 0;
}

void program_bus_done(void) {
        kernel_info_cache.message = sd_bus_message_unref(kernel_info_cache.message);
        json_object_put(kernel_info_cache.info);
        kernel_info_cache.info = NULL;
}

void program_bus_emit_added(Manager *m, uint32_t program_id) {
        _cleanup_free_ char *p = program_bus_path(program_id);
        if (p)
                (void) BUS_EMIT(&m->polkit, sd_bus_emit_object_added(m->bus, p));
}

void program_bus_emit_removed(Manager *m, uint32_t program_id) {
        _cleanup_free_ char *p = program_bus_path(program_id);
        if (p)
                (void) BUS_EMIT(&m->polkit, sd_bus_emit_object_removed(m->bus, p));
}

void link_bus_emit_added(Manager *m, uint32_t link_id) {
        _cleanup_free_ char *p = link_bus_path(link_id);
        if (p)
                (void) BUS_EMIT(&m->polkit, sd_bus_emit_object_added(m->bus, p));
}

void link_bus_emit_removed(Manager *m, uint32_t link_id) {
        _cleanup_free_ char *p = link_bus_path(link_id);
        if (p)
                (void) BUS_EMIT(&m->polkit, sd_bus_emit_object_removed(m->bus, p));
}
