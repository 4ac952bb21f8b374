/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bus-errors.h"
#include "log.h"
#include "manager-bus.h"

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
        SD_BUS_VTABLE_END
};

int manager_bus_register(Manager *m) {
        int r;

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
