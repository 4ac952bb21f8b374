/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include <json-c/json.h>

#include "errors.h"
#include "macro.h"
#include "time-util.h"

typedef bool (*check_idle_t)(void *userdata);

/* Runs the event loop. When "timeout" passes without any event being
 * dispatched and check_idle() agrees (or *stop_requested becomes true), gives
 * up the bus name and keeps serving until dbus-daemon confirmed the release,
 * everything queued before it is answered and check_idle() is true again, so
 * no caller loses a reply. timeout 0 or USEC_INFINITY: never exit on idle. */
int bus_event_loop_with_idle(sd_event *e, sd_bus *bus, const char *name, usec_t timeout,
                             check_idle_t check_idle, void *userdata, const bool *stop_requested);

/* Sends an ErrorInfo as a typed bus error (its name, or one derived from the errno). */
int bus_reply_error_info(sd_bus_error *error, const ErrorInfo *e);
/* Replies with the JSON as the single string argument and drops the reference. */
int bus_reply_json(sd_bus_message *msg, json_object *j);
