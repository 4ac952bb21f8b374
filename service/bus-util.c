/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <systemd/sd-daemon.h>

#include "bus-errors.h"
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

/* Sends an ErrorInfo as a typed bus error. */
int bus_reply_error_info(sd_bus_error *error, const ErrorInfo *e) {
        const char *name = e->bus_error;

        if (!name)
                switch (-e->error) {
                case EINVAL:    name = SD_BUS_ERROR_INVALID_ARGS; break;
                case ENOENT:    name = SD_BUS_ERROR_FILE_NOT_FOUND; break;
                case ENODEV:    name = SD_BUS_ERROR_INVALID_ARGS; break;
                case EACCES:
                case EPERM:     name = SD_BUS_ERROR_ACCESS_DENIED; break;
                case E2BIG:     name = BUS_ERROR_LIMITS_EXCEEDED; break;
                case EOPNOTSUPP: name = BUS_ERROR_UNSUPPORTED_BY_KERNEL; break;
                case EBUSY:     name = BUS_ERROR_INTERFACE_BUSY; break;
                case ECANCELED: name = BUS_ERROR_CANCELLED; break;
                case ECONNREFUSED:
                case ECONNRESET:
                case EHOSTUNREACH:
                case ETIMEDOUT:
                case EPROTO:
                case EPROTONOSUPPORT:
                case ELOOP:     name = BUS_ERROR_REGISTRY_UNREACHABLE; break;
                default:        name = SD_BUS_ERROR_FAILED;
                }
        return sd_bus_error_set(error, name, e->message);
}

int bus_reply_json(sd_bus_message *msg, json_object *j) {
        int r = sd_bus_reply_method_return(msg, "s",
                                           json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(j);
        return r;
}

int bus_check_string(const char *s, const char *what, sd_bus_error *error) {
        if (strlen(s) > BUS_STRING_MAX)
                return sd_bus_error_setf(error, BUS_ERROR_LIMITS_EXCEEDED, "%s is longer than %d bytes.", what, BUS_STRING_MAX);
        return 0;
}


/* Reads an a{sv} of options described by table into target. Unknown keys
 * and wrong types are InvalidArgs: a typo must not be silently ignored. */
int bus_read_options(sd_bus_message *msg, const BusOption *table, void *target, sd_bus_error *error) {
        int r;

        r = sd_bus_message_enter_container(msg, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(msg, 'e', "sv")) > 0) {
                const BusOption *o = NULL;
                const char *key, *contents;

                r = sd_bus_message_read(msg, "s", &key);
                if (r < 0)
                        return r;
                for (const BusOption *i = table; i->key; i++)
                        if (streq(i->key, key))
                                o = i;
                if (!o)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Unknown option '%.64s'.", key);
                r = sd_bus_message_peek_type(msg, NULL, &contents);
                if (r < 0)
                        return r;
                if (!streq(contents, o->signature))
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "Option '%s' must be of type '%s', got '%s'.", key, o->signature, contents);
                r = sd_bus_message_enter_container(msg, 'v', o->signature);
                if (r < 0)
                        return r;
                r = o->parse(msg, key, (uint8_t *) target + o->offset, error);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(msg);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(msg);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(msg);
}

int bus_option_string(sd_bus_message *msg, const char *key, void *target, sd_bus_error *error) {
        char **field = target;
        const char *v;
        int r;

        r = sd_bus_message_read(msg, "s", &v);
        if (r < 0)
                return r;
        r = bus_check_string(v, key, error);
        if (r < 0)
                return r;
        free(*field);
        *field = isempty(v) ? NULL : strdup(v);
        return isempty(v) || *field ? 0 : -ENOMEM;
}

int bus_option_bool(sd_bus_message *msg, const char *key, void *target, sd_bus_error *error) {
        int b, r = sd_bus_message_read(msg, "b", &b);
        if (r >= 0)
                *(bool *) target = b;
        return r;
}
