/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <systemd/sd-daemon.h>

#include "bus-util.h"
#include "log.h"

static int name_released(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        bool *released = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);

        if (e)
                log_warning("Failed to release bus name, exiting anyway: %s", e->message);
        *released = true;
        return 0;
}

int bus_event_loop_with_idle(sd_event *e, sd_bus *bus, const char *name, usec_t timeout,
                             check_idle_t check_idle, void *userdata, const bool *stop_requested) {
        bool released = false;
        int r;

        for (;;) {
                bool idle;

                r = sd_event_get_state(e);
                if (r < 0)
                        return r;
                if (r == SD_EVENT_FINISHED)
                        return 0; /* disconnected from the bus, or told to exit hard */
                if (stop_requested && *stop_requested)
                        break;

                idle = timeout > 0 && timeout != USEC_INFINITY && (!check_idle || check_idle(userdata));
                r = sd_event_run(e, idle ? timeout : UINT64_MAX);
                if (r < 0)
                        return r;
                if (r == 0 && idle) {
                        log_debug("Idle for %llu ms, exiting.", (unsigned long long) (timeout / USEC_PER_MSEC));
                        break;
                }
        }

        (void) sd_notify(false, "STOPPING=1");

        /* dbus-daemon routes messages in order: every call sent to our name
         * before the release reaches us before the release's reply does. */
        r = sd_bus_release_name_async(bus, NULL, name, name_released, &released);
        if (r < 0)
                return log_error_errno(r, "Failed to release bus name %s: %m", name);

        while (!released || (check_idle && !check_idle(userdata))) {
                r = sd_event_get_state(e);
                if (r < 0)
                        return r;
                if (r == SD_EVENT_FINISHED)
                        return 0;
                r = sd_event_run(e, UINT64_MAX);
                if (r < 0)
                        return r;
        }

        /* Answer what is still queued, then make sure the replies are written. */
        for (;;) {
                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
        }
        r = sd_bus_flush(bus);
        return r < 0 && r != -ENOTCONN && r != -ECONNRESET ? r : 0;
}
