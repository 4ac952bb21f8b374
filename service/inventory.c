/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <bpf/bpf.h>

#include "inventory.h"

void program_filter_done(ProgramFilter *f) {
        strv_free(f->metadata);
        free(f->group);
        free(f->kernel_type);
        free(f->iface);
        free(f->netns);
        *f = (ProgramFilter) { .type = _PROGRAM_TYPE_INVALID };
}

static bool matches(const Program *p, const ProgramFilter *f) {
        if (f->type >= 0 && p->type != f->type)
                return false;
        if (f->group && (!p->group || !streq(p->group, f->group)))
                return false;
        STRV_FOREACH(m, f->metadata)
                if (!strv_contains(p->metadata, *m))
                        return false;
        return true;
}

static int managed_entry(const Program *p, json_object *kernel, json_object **ret) {
        json_object *e = json_object_new_object(), *rec = NULL;
        int r;

        if (!e)
                return -ENOMEM;
        r = program_to_json(p, &rec);
        if (r < 0) {
                json_object_put(e);
                return r;
        }
        json_object_object_add(e, "id", json_object_new_uint64(p->id));
        json_object_object_add(e, "managed", json_object_new_boolean(true));
        json_object_object_add(e, "bpfhub", rec);
        json_object_object_add(e, "kernel", kernel);
        *ret = e;
        return 0;
}

int inventory_list(State *s, const ProgramFilter *f, json_object **ret) {
        json_object *arr = json_object_new_array();
        int r;

        if (!arr)
                return -ENOMEM;
        for (size_t i = 0; i < s->n_programs; i++) {
                json_object *kernel = NULL, *e;
                if (!matches(s->programs[i], f))
                        continue;
                (void) program_kernel_info_by_id(s->programs[i]->id, &kernel);
                r = managed_entry(s->programs[i], kernel, &e);
                if (r < 0) {
                        json_object_put(arr);
                        return r;
                }
                json_object_array_add(arr, e);
        }

        if (f->all) {
                uint32_t id = 0;
                /* Everything else in the kernel, which no bpfhub filter can
                 * describe except the kernel type. */
                while (bpf_prog_get_next_id(id, &id) == 0) {
                        json_object *kernel = NULL, *e, *t;
                        if (state_find_program(s, id))
                                continue;
                        if (program_kernel_info_by_id(id, &kernel) < 0)
                                continue; /* gone meanwhile */
                        if (f->type >= 0 || f->group || f->metadata ||
                            (f->kernel_type && (!json_object_object_get_ex(kernel, "type", &t) ||
                                                !streq(json_object_get_string(t), f->kernel_type)))) {
                                json_object_put(kernel);
                                continue;
                        }
                        e = json_object_new_object();
                        if (!e) {
                                json_object_put(kernel);
                                json_object_put(arr);
                                return -ENOMEM;
                        }
                        json_object_object_add(e, "id", json_object_new_uint64(id));
                        json_object_object_add(e, "managed", json_object_new_boolean(false));
                        json_object_object_add(e, "bpfhub", NULL);
                        json_object_object_add(e, "kernel", kernel);
                        json_object_array_add(arr, e);
                }
        }
        *ret = arr;
        return 0;
}

int inventory_list_iface(State *s, const ProgramFilter *f, json_object **ret, ErrorInfo *err) {
        _cleanup_free_ HookEntry *entries = NULL;
        json_object *arr;
        size_t n;
        int r;

        r = link_hook_programs(f->iface, f->netns, &entries, &n, err);
        if (r < 0)
                return r;
        arr = json_object_new_array();
        if (!arr)
                return error_info_set(err, ENOMEM, NULL, "Out of memory.");
        for (size_t i = 0; i < n; i++) {
                Program *p = state_find_program(s, entries[i].program_id);
                Link *running = p ? NULL : state_find_xdp_link_running(s, entries[i].program_id);
                json_object *e, *kernel = NULL;

                /* Under libxdp's dispatcher a freplace copy of the program runs. */
                if (running)
                        p = state_find_program(s, running->program_id);

                if (p && !matches(p, f))
                        continue;
                (void) program_kernel_info_by_id(entries[i].program_id, &kernel);
                if (p) {
                        r = managed_entry(p, kernel, &e);
                        if (r < 0) {
                                json_object_put(arr);
                                return error_info_set(err, r, NULL, "Out of memory.");
                        }
                } else {
                        e = json_object_new_object();
                        json_object_object_add(e, "id", json_object_new_uint64(entries[i].program_id));
                        json_object_object_add(e, "managed", json_object_new_boolean(false));
                        json_object_object_add(e, "bpfhub", NULL);
                        json_object_object_add(e, "kernel", kernel);
                }
                json_object_object_add(e, "hook", json_object_new_string(entries[i].hook));
                json_object_object_add(e, "position", json_object_new_uint64(entries[i].position));
                json_object_object_add(e, "mode", entries[i].mode ? json_object_new_string(entries[i].mode) : NULL);
                json_object_object_add(e, "hookProgramId", json_object_new_uint64(entries[i].program_id));
                json_object_object_add(e, "linkId", running ? json_object_new_uint64(running->id) : NULL);
                json_object_object_add(e, "dispatcherId",
                                       entries[i].dispatcher_id ? json_object_new_uint64(entries[i].dispatcher_id) : NULL);
                json_object_object_add(e, "runPrio", entries[i].dispatcher_id ? json_object_new_uint64(entries[i].run_prio) : NULL);
                json_object_array_add(arr, e);
        }
        *ret = arr;
        return 0;
}

int inventory_get(State *s, uint32_t id, json_object **ret) {
        Program *p = state_find_program(s, id);
        _cleanup_free_ Link **links = NULL;
        json_object *root, *rec = NULL, *kernel = NULL, *arr;
        size_t n;
        int r;

        if (!p)
                return -ENOENT;
        r = program_to_json(p, &rec);
        if (r < 0)
                return r;
        (void) program_kernel_info_by_id(id, &kernel);
        arr = json_object_new_array();
        root = json_object_new_object();
        if (!arr || !root) {
                json_object_put(arr);
                json_object_put(root);
                json_object_put(rec);
                json_object_put(kernel);
                return -ENOMEM;
        }
        n = state_program_links(s, id, &links);
        for (size_t i = 0; i < n; i++) {
                json_object *lj;
                uint32_t position;
                if (link_to_json(links[i], &lj) < 0)
                        continue;
                /* Where it runs now, read from the kernel: other tools may have moved things. */
                json_object_object_add(lj, "position", link_position(links[i], &position) >= 0
                                                               ? json_object_new_uint64(position) : NULL);
                json_object_array_add(arr, lj);
        }
        json_object_object_add(rec, "links", arr);
        json_object_object_add(root, "bpfhub", rec);
        json_object_object_add(root, "kernel", kernel);
        *ret = root;
        return 0;
}
