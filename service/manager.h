/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "bus-polkit.h"
#include "config.h"
#include "http.h"
#include "image-store.h"
#include "kernel-features.h"
#include "state.h"

typedef struct Manager {
        sd_event *event;
        sd_bus *bus;
        BpfhubConfig config;
        KernelFeatures features;
        State *state;
        PolkitRegistry polkit;
        ImageStore *images;
        HttpClient *http;
        struct Transfer *transfers;
        uint32_t next_transfer_id;
        usec_t start_time;

        bool stop_requested;
} Manager;

/* Takes ownership of the configuration. */
int manager_new(BpfhubConfig *config, Manager **ret);
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);

int manager_startup(Manager *m);
int manager_run(Manager *m);
bool manager_check_idle(void *userdata);

/* Everything Describe() shows, as JSON. */
int manager_describe_json(Manager *m, json_object **ret);
