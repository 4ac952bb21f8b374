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

/* Strings from callers: longer than this is LimitsExceeded. */
#define BUS_STRING_MAX 4096
int bus_check_string(const char *s, const char *what, sd_bus_error *error);

typedef int (*bus_option_fn)(sd_bus_message *msg, const char *key, void *target, sd_bus_error *error);

typedef struct BusOption {
        const char *key;
        const char *signature;
        bus_option_fn parse;
        size_t offset;
} BusOption;

/* Reads an a{sv} of options described by table (ended by an empty entry)
 * into target. Unknown keys and wrong types are InvalidArgs: a typo must not
 * be silently ignored. */
int bus_read_options(sd_bus_message *msg, const BusOption *table, void *target, sd_bus_error *error);
/* Parsers for the table: a string (empty: NULL, over BUS_STRING_MAX:
 * LimitsExceeded) into a char *, a boolean into a bool. */
int bus_option_string(sd_bus_message *msg, const char *key, void *target, sd_bus_error *error);
int bus_option_bool(sd_bus_message *msg, const char *key, void *target, sd_bus_error *error);
