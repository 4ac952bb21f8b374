/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <inttypes.h>
#include <sys/stat.h>

#include "errors.h"
#include "fileio.h"
#include "log.h"
#include "state.h"
#include "time-util.h"

#define RECORD_SIZE_MAX (256 * 1024)

State *state_free(State *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_programs; i++)
                program_free(s->programs[i]);
        free(s->programs);
        for (size_t i = 0; i < s->n_links; i++)
                link_free(s->links[i]);
        free(s->links);
        free(s->state_dir);
        free(s->bpffs_root);
        return mfree(s);
}

Program *state_find_program(State *s, uint32_t id) {
        for (size_t i = 0; i < s->n_programs; i++)
                if (s->programs[i]->id == id)
                        return s->programs[i];
        return NULL;
}

Link *state_find_link(State *s, uint32_t id) {
        for (size_t i = 0; i < s->n_links; i++)
                if (s->links[i]->id == id)
                        return s->links[i];
        return NULL;
}

Link *state_find_xdp_link_running(State *s, uint32_t kernel_program_id) {
        for (size_t i = 0; i < s->n_links; i++)
                if (s->links[i]->kind == LINK_XDP && s->links[i]->attached_program_id == kernel_program_id)
                        return s->links[i];
        return NULL;
}

size_t state_program_links(State *s, uint32_t program_id, Link ***ret) {
        Link **l = calloc(s->n_links + 1, sizeof(Link *));
        size_t n = 0;

        if (!l)
                return 0;
        for (size_t i = 0; i < s->n_links; i++)
                if (s->links[i]->program_id == program_id)
                        l[n++] = s->links[i];
        *ret = l;
        return n;
}

static char *record_dir(State *s, const char *what) {
        return strjoin(s->state_dir, "/", what);
}

static int write_record(State *s, const char *what, uint32_t id, json_object *j) {
        _cleanup_free_ char *dir = record_dir(s, what);
        char name[32];
        const char *text;
        int r;

        if (!dir)
                return -ENOMEM;
        r = mkdir_parents(dir, 0755);
        if (r < 0)
                return r;
        (void) snprintf(name, sizeof name, "%" PRIu32 ".json", id);
        text = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
        return write_file_atomic(dir, name, text, strlen(text));
}

static int remove_record(State *s, const char *what, uint32_t id) {
        _cleanup_free_ char *path = NULL;

        if (asprintf(&path, "%s/%s/%" PRIu32 ".json", s->state_dir, what, id) < 0)
                return -ENOMEM;
        if (unlink(path) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

static int save_program(State *s, const Program *p) {
        json_object *j;
        int r = program_to_json(p, &j);

        if (r < 0)
                return r;
        r = write_record(s, "programs", p->id, j);
        json_object_put(j);
        return r;
}

static int save_link(State *s, const Link *l) {
        json_object *j;
        int r = link_to_json(l, &j);

        if (r < 0)
                return r;
        r = write_record(s, "links", l->id, j);
        json_object_put(j);
        return r;
}

static int push(void ***array, size_t *n, void *item) {
        void **a = reallocarray(*array, *n + 1, sizeof(void *));

        if (!a)
                return -ENOMEM;
        a[(*n)++] = item;
        *array = a;
        return 0;
}

static void remove_at(void **array, size_t *n, size_t i) {
        memmove(array + i, array + i + 1, (*n - i - 1) * sizeof(void *));
        (*n)--;
}

/* The object a load came from, kept while programs of its group that may
 * need a second copy (XDP under libxdp's dispatcher) are loaded. */
static char *object_path(State *s, uint32_t group_id) {
        char *p;
        return asprintf(&p, "%s/objects/%" PRIu32, s->state_dir, group_id) < 0 ? NULL : p;
}

static bool group_in_use(State *s, uint32_t group_id) {
        for (size_t i = 0; i < s->n_programs; i++)
                if (s->programs[i]->group_id == group_id)
                        return true;
        return false;
}

static bool request_needs_object(const LoadRequest *req) {
        for (size_t i = 0; i < req->n_programs; i++)
                if (req->programs[i].type == PROGRAM_XDP)
                        return true;
        return false;
}

/* Copies the object into the state directory before loading, so that
 * what is kept is exactly what was loaded. */
static int copy_object(State *s, const char *source, char **ret, ErrorInfo *err) {
        _cleanup_free_ char *dir = record_dir(s, "objects"), *data = NULL;
        size_t size;
        int r;

        if (!dir)
                return -ENOMEM;
        r = read_full_file(source, PROGRAM_OBJECT_SIZE_MAX, &data, &size);
        if (r == -EFBIG)
                return error_info_set(err, EFBIG, BUS_ERROR_LIMITS_EXCEEDED, "The object is larger than %u MiB.",
                                      PROGRAM_OBJECT_SIZE_MAX >> 20);
        if (r == -EBADFD)
                return error_info_set(err, EBADMSG, BUS_ERROR_INVALID_BYTECODE, "%s is not a regular file.", source);
        if (r < 0)
                return error_info_set(err, r, NULL, "Cannot open %s: %m", source);
        r = mkdir_parents(dir, 0700);
        if (r >= 0)
                r = write_file_atomic(dir, ".#object-loading", data, size);
        if (r < 0)
                return error_info_set(err, r, NULL, "Cannot keep a copy of the object in %s: %m", dir);
        *ret = strjoin(dir, "/.#object-loading");
        return *ret ? 0 : -ENOMEM;
}

static int remove_unused_object(State *s, ReconcileReport *rep, const char *path, uint32_t group_id) {
        if (!group_in_use(s, group_id))
                (void) unlink(path);
        return 0;
}

/* Calls fn for every "<number>[.json]" entry of dir; removes temp files
 * that a crash left behind. */
static int for_each_numbered(const char *dir, bool json,
                             int (*fn)(State *s, ReconcileReport *rep, const char *path, uint32_t id),
                             State *s, ReconcileReport *rep) {
        _cleanup_(closedirp) DIR *d = opendir(dir);
        struct dirent *de;
        int r;

        if (!d)
                return errno == ENOENT ? 0 : -errno;
        while ((de = readdir(d))) {
                _cleanup_free_ char *path = NULL;
                char *end;
                unsigned long id;

                if (de->d_name[0] == '.' && (streq(de->d_name, ".") || streq(de->d_name, "..")))
                        continue;
                path = strjoin(dir, "/", de->d_name);
                if (!path)
                        return -ENOMEM;
                if (startswith(de->d_name, ".#")) {
                        (void) unlink(path);
                        continue;
                }
                errno = 0;
                id = strtoul(de->d_name, &end, 10);
                if (errno || id == 0 || id > UINT32_MAX || (json ? !streq(end, ".json") : *end != '\0')) {
                        log_warning("Ignoring unexpected entry %s.", path);
                        continue;
                }
                r = fn(s, rep, path, (uint32_t) id);
                if (r == -ENOMEM)
                        return r;
        }
        return 0;
}

static int read_json(const char *path, json_object **ret) {
        _cleanup_free_ char *text = NULL;
        int r = read_full_file(path, RECORD_SIZE_MAX, &text, NULL);

        if (r < 0)
                return r;
        *ret = json_tokener_parse(text);
        return *ret ? 0 : -EBADMSG;
}

static int load_program_record(State *s, ReconcileReport *rep, const char *path, uint32_t id) {
        json_object *j = NULL;
        Program *p = NULL;
        int r;

        r = read_json(path, &j);
        if (r >= 0)
                r = program_from_json(j, &p);
        json_object_put(j);
        if (r < 0 || p->id != id) {
                log_warning("Dropping unreadable program record %s.", path);
                program_free(p);
                (void) unlink(path);
                return 0;
        }
        return push((void ***) &s->programs, &s->n_programs, p);
}

static int load_link_record(State *s, ReconcileReport *rep, const char *path, uint32_t id) {
        json_object *j = NULL;
        Link *l = NULL;
        int r;

        r = read_json(path, &j);
        if (r >= 0)
                r = link_from_json(j, &l);
        json_object_put(j);
        if (r < 0 || l->id != id) {
                log_warning("Dropping unreadable link record %s.", path);
                link_free(l);
                (void) unlink(path);
                return 0;
        }
        s->next_link_id = MAX(s->next_link_id, id + 1);
        return push((void ***) &s->links, &s->n_links, l);
}

static int unpin_orphan_program(State *s, ReconcileReport *rep, const char *path, uint32_t id) {
        if (state_find_program(s, id))
                return 0;
        log_info("Unpinning program %" PRIu32 ", which has no record (left by an interrupted load).", id);
        (void) unlink(path);
        rep->orphan_programs_unpinned++;
        return 0;
}

static int detach_orphan_link(State *s, ReconcileReport *rep, const char *path, uint32_t id) {
        if (state_find_link(s, id))
                return 0;
        log_info("Detaching link %" PRIu32 ", which has no record (left by an interrupted attach).", id);
        (void) unlink(path);
        rep->orphan_links_detached++;
        s->next_link_id = MAX(s->next_link_id, id + 1);
        return 0;
}

static bool map_dir_in_use(State *s, uint32_t owner) {
        for (size_t i = 0; i < s->n_programs; i++)
                if (s->programs[i]->map_owner_id == owner)
                        return true;
        return false;
}

static int remove_unused_map_dir(State *s, ReconcileReport *rep, const char *path, uint32_t owner) {
        if (map_dir_in_use(s, owner))
                return 0;
        log_info("Removing maps of program %" PRIu32 ", which no program uses.", owner);
        (void) rm_rf(path);
        rep->map_dirs_removed++;
        return 0;
}

/* libxdp attaches without a pin, so an XDP attach cut short by a crash is
 * found on the hook: the program itself or its freplace copy that no other
 * record claims. */
static void adopt_interrupted_xdp_attach(State *s, Link *l) {
        XdpHookProgram found[XDP_PROGRAMS_MAX + 2];
        int ifindex;
        size_t n;

        if (link_xdp_attached_candidates(l, found, ELEMENTSOF(found), &n, &ifindex) < 0)
                return;
        for (size_t i = 0; i < n; i++) {
                if (state_find_xdp_link_running(s, found[i].program_id))
                        continue;
                free(l->mode_used);
                l->mode_used = strdup(found[i].mode);
                l->attached_program_id = found[i].program_id;
                l->xdp_dispatcher = found[i].dispatcher_id > 0;
                l->ifindex = ifindex;
                log_info("Link %" PRIu32 ": the interrupted XDP attach of program %" PRIu32 " went through (%" PRIu32 " on %s).",
                         l->id, l->program_id, l->attached_program_id, l->iface);
                return;
        }
}

static int reconcile(State *s, ReconcileReport *report) {
        _cleanup_free_ char *prog_pins = strjoin(s->bpffs_root, "/programs");
        _cleanup_free_ char *link_pins = strjoin(s->bpffs_root, "/links");
        _cleanup_free_ char *map_pins = strjoin(s->bpffs_root, "/maps");
        _cleanup_free_ char *objects = record_dir(s, "objects");
        int r;

        if (!prog_pins || !link_pins || !map_pins || !objects)
                return -ENOMEM;

        /* 1. A program record needs its pinned program. */
        for (size_t i = 0; i < s->n_programs;) {
                Program *p = s->programs[i];
                int fd = program_open_pinned(s->bpffs_root, p->id);
                if (fd >= 0) {
                        (void) close(fd);
                        report->programs_kept++;
                        i++;
                        continue;
                }
                log_info("Dropping the record of program %" PRIu32 " (%s): its pin is gone.", p->id, p->name);
                (void) program_unpin(s->bpffs_root, p->id);
                (void) remove_record(s, "programs", p->id);
                program_free(p);
                remove_at((void **) s->programs, &s->n_programs, i);
                report->programs_dropped++;
        }

        /* 2. A link record needs its program and its kernel link; an
         * incomplete one is completed if the attach went through. */
        for (size_t i = 0; i < s->n_links;) {
                Link *l = s->links[i];
                bool keep;

                if (!l->complete && l->kind == LINK_XDP && l->attached_program_id == 0 && state_find_program(s, l->program_id))
                        adopt_interrupted_xdp_attach(s, l);
                keep = state_find_program(s, l->program_id) && link_exists(s->bpffs_root, l);

                if (keep) {
                        if (!l->complete) {
                                l->complete = true;
                                (void) save_link(s, l);
                                report->incomplete_links_completed++;
                        }
                        report->links_kept++;
                        i++;
                        continue;
                }
                log_info("Dropping link %" PRIu32 " of program %" PRIu32 ": %s.", l->id, l->program_id,
                         !state_find_program(s, l->program_id) ? "its program is gone" : "it is no longer attached");
                (void) link_detach(s->bpffs_root, l);
                (void) remove_record(s, "links", l->id);
                link_free(l);
                remove_at((void **) s->links, &s->n_links, i);
                report->links_dropped++;
        }

        /* 3. Pins without records are leftovers of interrupted work. */
        r = for_each_numbered(link_pins, false, detach_orphan_link, s, report);
        if (r < 0)
                return r;
        r = for_each_numbered(prog_pins, false, unpin_orphan_program, s, report);
        if (r < 0)
                return r;
        r = for_each_numbered(objects, false, remove_unused_object, s, report);
        if (r < 0)
                return r;
        return for_each_numbered(map_pins, false, remove_unused_map_dir, s, report);
}

int state_open(const char *state_dir, const char *bpffs_root, State **ret, ReconcileReport *report) {
        _cleanup_(state_freep) State *s = calloc(1, sizeof(State));
        _cleanup_free_ char *programs = NULL, *links = NULL;
        const char *pause;
        int r;

        if (!s)
                return -ENOMEM;
        *report = (ReconcileReport) {};
        s->state_dir = strdup(state_dir);
        s->bpffs_root = strdup(bpffs_root);
        s->next_link_id = 1;
        programs = strjoin(state_dir, "/programs");
        links = strjoin(state_dir, "/links");
        if (!s->state_dir || !s->bpffs_root || !programs || !links)
                return -ENOMEM;

        pause = secure_getenv("BPFHUB_TEST_PAUSE_AFTER_ATTACH_USEC");
        if (pause)
                s->pause_after_attach_usec = strtoull(pause, NULL, 10);

        r = mkdir_parents(state_dir, 0755);
        if (r < 0)
                return log_error_errno(r, "Cannot create state directory %s: %m", state_dir);
        r = mkdir_parents(bpffs_root, 0700);
        if (r < 0)
                return log_error_errno(r, "Cannot create pin directory %s: %m", bpffs_root);

        r = for_each_numbered(programs, true, load_program_record, s, report);
        if (r < 0)
                return r;
        r = for_each_numbered(links, true, load_link_record, s, report);
        if (r < 0)
                return r;
        r = reconcile(s, report);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

int state_load(State *s, const KernelFeatures *kf, const LoadRequest *req, Program ***ret, size_t *ret_n,
               ErrorInfo *err) {
        _cleanup_free_ char *kept = NULL;
        char object_name[256];
        LoadRequest copy;
        Program **progs = NULL;
        size_t n = 0;
        int r;

        if (req->map_owner_id > 0 && !state_find_program(s, req->map_owner_id)) {
                *err = (ErrorInfo) { .error = -ENOENT, .bus_error = BUS_ERROR_NO_SUCH_PROGRAM };
                (void) snprintf(err->message, sizeof err->message, "No managed program %" PRIu32 " to share maps with.",
                                req->map_owner_id);
                return -ENOENT;
        }

        if (request_needs_object(req)) {
                r = copy_object(s, req->path, &kept, err);
                if (r < 0)
                        return r;
                /* Messages and records still name what the caller gave. */
                copy = *req;
                copy.path = kept;
                if (!req->object_name) {
                        /* What libbpf would have called it: the file name up to its first dot. */
                        const char *base = strrchr(req->path, '/') ? strrchr(req->path, '/') + 1 : req->path;
                        (void) snprintf(object_name, sizeof object_name, "%.*s", (int) strcspn(base, "."), base);
                        copy.object_name = object_name;
                }
                copy.image_reference = (char *) load_request_origin(req);
                req = &copy;
        }
        r = program_load(s->bpffs_root, kf, req, &progs, &n, err);
        if (r < 0) {
                if (kept)
                        (void) unlink(kept);
                return r;
        }
        if (kept) {
                _cleanup_free_ char *final = object_path(s, progs[0]->group_id);
                if (!final || rename(kept, final) < 0)
                        log_warning("Cannot keep the object of program %" PRIu32 "; it can only run alone on an XDP hook.",
                                    progs[0]->id);
        }

        /* Pins first, records second: a crash in between leaves pins without
         * records, which the next start removes. */
        for (size_t i = 0; i < n; i++) {
                r = save_program(s, progs[i]);
                if (r < 0) {
                        for (size_t k = 0; k < n; k++) {
                                (void) remove_record(s, "programs", progs[k]->id);
                                (void) program_unpin(s->bpffs_root, progs[k]->id);
                        }
                        if (req->map_owner_id == 0) {
                                _cleanup_free_ char *maps = map_pin_dir(s->bpffs_root, progs[0]->group_id);
                                if (maps)
                                        (void) rm_rf(maps);
                        }
                        for (size_t k = 0; k < n; k++)
                                program_free(progs[k]);
                        free(progs);
                        *err = (ErrorInfo) { .error = r };
                        (void) snprintf(err->message, sizeof err->message, "Cannot write the program record: %s",
                                        strerror(-r));
                        return r;
                }
        }
        for (size_t i = 0; i < n; i++) {
                r = push((void ***) &s->programs, &s->n_programs, progs[i]);
                if (r < 0)
                        return r; /* records exist; the next start picks them up */
        }
        *ret = progs; /* the array is the caller's, the programs the state's */
        *ret_n = n;
        return 0;
}

int state_attach(State *s, const KernelFeatures *kf, Link *l, Link **ret, ErrorInfo *err) {
        _cleanup_(link_freep) Link *owned = l;
        Program *p = state_find_program(s, l->program_id);
        int r;

        if (!p) {
                *err = (ErrorInfo) { .error = -ENOENT, .bus_error = BUS_ERROR_NO_SUCH_PROGRAM };
                (void) snprintf(err->message, sizeof err->message, "No managed program %" PRIu32 ".", l->program_id);
                return -ENOENT;
        }
        r = link_validate(l, p->type, kf, err);
        if (r < 0)
                return r;

        l->id = s->next_link_id++;
        l->complete = false;
        /* The intent comes first, so a crash during the attach is found. */
        r = save_link(s, l);
        if (r < 0) {
                *err = (ErrorInfo) { .error = r };
                (void) snprintf(err->message, sizeof err->message, "Cannot write the link record: %s", strerror(-r));
                return r;
        }

        /* Only XDP under libxdp's dispatcher makes a copy from the kept object. */
        _cleanup_free_ char *object = l->kind == LINK_XDP ? object_path(s, p->group_id) : NULL;
        const KernelFeature *multiprog = kernel_features_find(kf, "xdp_multiprog");
        LinkProgram lp = {
                .name = p->name,
                .globals = p->globals,
                .object_path = object && access(object, F_OK) == 0 ? object : NULL,
                .xdp_dispatcher = multiprog && multiprog->supported,
        };
        TcxPlacement placement = tcx_placement(s->links, s->n_links, l);
        r = link_attach(s->bpffs_root, l, &lp, &placement, err);
        if (r < 0) {
                (void) remove_record(s, "links", l->id);
                return r;
        }

        if (s->pause_after_attach_usec > 0)
                (void) usleep((useconds_t) MIN(s->pause_after_attach_usec, 60 * USEC_PER_SEC));

        l->complete = true;
        r = save_link(s, l);
        if (r < 0) {
                (void) link_detach(s->bpffs_root, l);
                (void) remove_record(s, "links", l->id);
                *err = (ErrorInfo) { .error = r };
                (void) snprintf(err->message, sizeof err->message, "Cannot write the link record: %s", strerror(-r));
                return r;
        }
        r = push((void ***) &s->links, &s->n_links, l);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(owned);
        return 0;
}

static bool same_tc_interface(const Link *a, const Link *b) {
        return a != b && a->kind == LINK_TC && b->kind == LINK_TC && streq_ptr(a->iface, b->iface) &&
               streq_ptr(a->netns, b->netns);
}

/* After a tc filter went: if bpfhub added the clsact qdisc, remove it once
 * no filter at all is left on it (deleting it would take others' filters
 * along); while bpfhub filters remain, one of them inherits the duty. */
static void tc_cleanup_after_detach(State *s, const Link *gone) {
        Link *heir = NULL;
        int r;

        if (!gone->tc_created_clsact)
                return;
        for (size_t i = 0; i < s->n_links && !heir; i++)
                if (same_tc_interface(s->links[i], gone))
                        heir = s->links[i];
        if (heir) {
                heir->tc_created_clsact = true;
                (void) save_link(s, heir);
                return;
        }
        r = tc_hook_has_filters(gone);
        if (r < 0)
                log_debug_errno(r, "Cannot list the tc filters of %s, keeping its clsact qdisc: %m", gone->iface);
        else if (r == 0)
                (void) tc_hook_destroy(gone);
}

int state_detach(State *s, uint32_t link_id) {
        for (size_t i = 0; i < s->n_links; i++) {
                Link *l = s->links[i];
                int r;

                if (l->id != link_id)
                        continue;
                r = link_detach(s->bpffs_root, l);
                if (r < 0)
                        return r;
                (void) remove_record(s, "links", l->id);
                remove_at((void **) s->links, &s->n_links, i);
                if (l->kind == LINK_TC)
                        tc_cleanup_after_detach(s, l);
                link_free(l);
                return 0;
        }
        return -ENOENT;
}

int state_unload(State *s, uint32_t program_id) {
        Program *p = state_find_program(s, program_id);
        uint32_t owner, group;
        int r;

        if (!p)
                return -ENOENT;
        for (size_t i = s->n_links; i > 0; i--)
                if (s->links[i - 1]->program_id == program_id) {
                        r = state_detach(s, s->links[i - 1]->id);
                        if (r < 0)
                                return r;
                }

        r = program_unpin(s->bpffs_root, program_id);
        if (r < 0)
                return r;
        (void) remove_record(s, "programs", program_id);
        owner = p->map_owner_id;
        group = p->group_id;
        for (size_t i = 0; i < s->n_programs; i++)
                if (s->programs[i] == p) {
                        remove_at((void **) s->programs, &s->n_programs, i);
                        break;
                }
        program_free(p);

        if (!group_in_use(s, group)) {
                _cleanup_free_ char *object = object_path(s, group);
                if (object)
                        (void) unlink(object);
        }
        if (!map_dir_in_use(s, owner)) {
                _cleanup_free_ char *maps = map_pin_dir(s->bpffs_root, owner);
                if (!maps)
                        return -ENOMEM;
                (void) rm_rf(maps);
        }
        return 0;
}
