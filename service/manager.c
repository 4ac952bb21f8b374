/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <signal.h>
#include <systemd/sd-daemon.h>

#include "bus-errors.h"
#include "bus-util.h"
#include "json-util.h"
#include "log.h"
#include "image-bus.h"
#include "manager-bus.h"
#include "program-bus.h"
#include "manager.h"

static int on_stop_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = ASSERT_PTR(userdata);

        log_info("Received %s, shutting down.", strsignal((int) si->ssi_signo));
        m->stop_requested = true;
        return 0;
}

int manager_new(BpfhubConfig *config, Manager **ret) {
        _cleanup_(manager_freep) Manager *m = NULL;
        int r;

        m = calloc(1, sizeof(Manager));
        if (!m)
                return -ENOMEM;
        m->config = *config;
        *config = (BpfhubConfig) {};
        m->start_time = now_usec(CLOCK_REALTIME);

        r = sd_event_default(&m->event);
        if (r < 0)
                return r;

        /* Not sd_event_set_signal_exit(): on SIGTERM we still give up the bus
         * name gracefully and answer queued calls before exiting. */
        r = sd_event_add_signal(m->event, NULL, SIGTERM | SD_EVENT_SIGNAL_PROCMASK, on_stop_signal, m);
        if (r < 0)
                return r;
        r = sd_event_add_signal(m->event, NULL, SIGINT | SD_EVENT_SIGNAL_PROCMASK, on_stop_signal, m);
        if (r < 0)
                return r;
        (void) sd_event_set_watchdog(m->event, true);

        *ret = TAKE_PTR(m);
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        image_bus_done(m);
        program_bus_done();
        sd_bus_flush_close_unref(m->bus);
        sd_event_unref(m->event);
        kernel_features_done(&m->features);
        state_free(m->state);
        polkit_registry_done(&m->polkit);
        http_client_free(m->http);
        image_store_free(m->images);
        config_done(&m->config);
        return mfree(m);
}

static int manager_connect_bus(Manager *m) {
        int r;

        r = sd_bus_open_system(&m->bus);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the system bus: %m");

        r = manager_bus_register(m);
        if (r < 0)
                return r;

        r = sd_bus_request_name(m->bus, BPFHUB_BUS_NAME, 0);
        if (r == -EEXIST)
                return log_error_errno(r, "Bus name %s is owned by another process.", BPFHUB_BUS_NAME);
        if (r < 0)
                return log_error_errno(r, "Failed to acquire bus name %s: %m", BPFHUB_BUS_NAME);

        r = sd_bus_attach_event(m->bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Failed to attach bus to event loop: %m");
        /* When the bus goes away there is nobody left to serve. */
        (void) sd_bus_set_exit_on_disconnect(m->bus, true);
        return 0;
}

int manager_startup(Manager *m) {
        char buf[FORMAT_TIMESPAN_MAX];
        size_t n_supported = 0;
        int r;

        r = kernel_features_probe(&m->features);
        if (r < 0)
                return log_error_errno(r, "Failed to probe kernel features: %m");
        for (size_t i = 0; i < m->features.n_items; i++)
                n_supported += m->features.items[i].supported;
        log_debug("Kernel %s: %zu of %zu features supported.", m->features.release, n_supported,
                  m->features.n_items);

        /* Before anything could unshare the mount namespace (tracefs). */
        r = bpffs_ensure(m->config.bpffs_root);
        if (r < 0)
                return log_error_errno(r, "Failed to prepare the pin directory %s on a bpf file system: %m",
                                       m->config.bpffs_root);
        {
                ReconcileReport rep;
                r = state_open(m->config.state_dir, m->config.bpffs_root, &m->state, &rep);
                if (r < 0)
                        return log_error_errno(r, "Failed to read state from %s: %m", m->config.state_dir);
                log_info("State: %u programs and %u links kept; dropped %u program and %u link records without "
                         "kernel objects; removed %u orphan program pins and %u orphan link pins; completed %u "
                         "interrupted attaches.", rep.programs_kept, rep.links_kept, rep.programs_dropped,
                         rep.links_dropped, rep.orphan_programs_unpinned, rep.orphan_links_detached,
                         rep.incomplete_links_completed);
        }

        r = image_store_open(m->config.image_store, &m->images);
        if (r < 0)
                return log_error_errno(r, "Failed to open the image store %s: %m", m->config.image_store);
        r = http_client_new(m->event, &m->http);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the HTTP client: %m");

        r = manager_connect_bus(m);
        if (r < 0)
                return r;

        log_info("bpfhubd %s ready on %s (state %s, pins %s, images %s, idle timeout %s).",
                 PACKAGE_VERSION, BPFHUB_BUS_NAME, m->config.state_dir, m->config.bpffs_root,
                 m->config.image_store,
                 format_timespan(buf, sizeof buf, m->config.idle_timeout));
        (void) sd_notify(false, "READY=1\nSTATUS=Serving requests.");
        return 0;
}

bool manager_check_idle(void *userdata) {
        Manager *m = ASSERT_PTR(userdata);

        /* Work that must finish before the daemon may exit. */
        return m->polkit.n_queries == 0 && !image_bus_busy(m);
}

int manager_run(Manager *m) {
        return bus_event_loop_with_idle(m->event, m->bus, BPFHUB_BUS_NAME, m->config.idle_timeout,
                                        manager_check_idle, m, &m->stop_requested);
}

int manager_describe_json(Manager *m, json_object **ret) {
        json_object *root = NULL, *kernel = NULL, *cfg, *warnings;
        int r;

        r = kernel_features_to_json(&m->features, &kernel);
        if (r < 0)
                return r;

        root = json_object_new_object();
        cfg = json_object_new_object();
        warnings = json_object_new_array();
        if (!root || !cfg || !warnings) {
                json_object_put(root);
                json_object_put(cfg);
                json_object_put(warnings);
                json_object_put(kernel);
                return -ENOMEM;
        }

        json_object_object_add(root, "version", json_object_new_string(PACKAGE_VERSION));
        json_object_object_add(root, "kernel", kernel);
        json_object_object_add(root, "configuration", cfg);
        json_object_object_add(cfg, "configDirectory", json_object_new_string(m->config.config_dir));
        json_object_object_add(cfg, "stateDirectory", json_object_new_string(m->config.state_dir));
        json_object_object_add(cfg, "bpffsRoot", json_object_new_string(m->config.bpffs_root));
        json_object_object_add(cfg, "imageStore", json_object_new_string(m->config.image_store));
        json_object_object_add(cfg, "insecureRegistries", json_new_strv(m->config.insecure_registries));
        json_object_object_add(cfg, "idleTimeoutUSec",
                               json_object_new_uint64(m->config.idle_timeout == USEC_INFINITY ? 0 : m->config.idle_timeout));
        json_object_object_add(cfg, "warnings", warnings);
        STRV_FOREACH(w, m->config.warnings)
                json_object_array_add(warnings, json_object_new_string(*w));
        json_object_object_add(root, "startedUSec", json_object_new_uint64(m->start_time));
        json_object_object_add(root, "pid", json_object_new_int((int) getpid()));

        *ret = root;
        return 0;
}
