/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-c/json.h>
#include <libintl.h>
#include <systemd/sd-bus.h>

#include "macro.h"

#define _(s) gettext(s)
#define N_(s) (s)

/* Exit codes, documented in bpfhubctl(1). */
enum {
        EXIT_OK = 0,
        EXIT_FAILED = 1,        /* the daemon or the kernel refused the request */
        EXIT_USAGE = 2,         /* bad command line */
        EXIT_NOT_FOUND = 3,     /* no such program, link or image */
        EXIT_DENIED = 4,        /* not authorized (polkit or bus policy) */
        EXIT_UNAVAILABLE = 5,   /* the bus or bpfhubd cannot be reached */
};

typedef enum JsonMode {
        JSON_OFF,
        JSON_PRETTY,
        JSON_SHORT,
} JsonMode;

typedef struct Context {
        JsonMode json;
        bool no_pager;
        bool legend;
        const char *host;
        bool colors;            /* stdout was a terminal before any pager */
        bool ask_password;      /* let polkit ask (through an agent on our terminal) */
        int exit_status;        /* set by verbs that fail in a specific way */
} Context;

/* Connects to the system bus, or to a remote one over ssh for --host. */
int acquire_bus(Context *c, sd_bus **ret);

/* Prints "what: message" and records the matching exit code. */
int report_bus_error(Context *c, const char *what, const sd_bus_error *error, int r);

/* Options every verb takes; their getopt values are shared so that verb
 * parsers can hand them to common_option(). */
enum {
        ARG_COMMON_JSON = 0x200,
        ARG_COMMON_NO_PAGER,
        ARG_COMMON_NO_LEGEND,
        ARG_COMMON_NO_ASK_PASSWORD,
};
#define COMMON_OPTIONS                                                          \
        { "json",      optional_argument, NULL, ARG_COMMON_JSON },              \
        { "no-pager",  no_argument,       NULL, ARG_COMMON_NO_PAGER },          \
        { "no-legend", no_argument,       NULL, ARG_COMMON_NO_LEGEND },            \
        { "no-ask-password", no_argument, NULL, ARG_COMMON_NO_ASK_PASSWORD }

/* Handles getopt's '?' (-EINVAL) and COMMON_OPTIONS (1); any other value
 * is a programming error. Verb parsers call it from their default case. */
int common_option(Context *c, int opt, const char *arg);

/* Parses the common options; returns >0 to go on, 0 when --help or
 * --version was handled, <0 on a usage error. */
int parse_common_options(int argc, char *argv[], Context *c, bool in_verb);

/* Member lookups in the daemon's JSON replies; NULL when absent or of
 * another type (json_str), or when o is NULL. */
json_object *json_get(json_object *o, const char *key);
const char *json_str(json_object *o, const char *key);

/* Shared by the verbs: calls a Manager1 method returning JSON, prints JSON
 * as --json asks, prints "label   value" aligned by display width, formats
 * a CLOCK_REALTIME timestamp in microseconds. */
int call_json(Context *c, sd_bus *bus, const char *method, const char *what, json_object **ret, const char *types, ...);
void print_json(Context *c, json_object *j);
void print_field(const char *label, const char *value);
char *format_time(uint64_t usec, char *buf, size_t size);
/* The strings of a JSON array joined by sep ("" for a missing array). */
char *join_array(json_object *a, const char *sep);

/* Calls that may wait for a registry. */
#define IMAGE_CALL_TIMEOUT_USEC (10ULL * 60 * 1000 * 1000)

/* "oci:relative/dir:tag" → "oci:/abs/dir:tag"; registry references unchanged. */
int image_source_absolute(const char *source, char **ret);

int polkit_agent_open(void);
void polkit_agent_close(void);

int verb_status(int argc, char *argv[], void *userdata);
int verb_load(int argc, char *argv[], void *userdata);
int verb_attach(int argc, char *argv[], void *userdata);
int verb_detach(int argc, char *argv[], void *userdata);
int verb_unload(int argc, char *argv[], void *userdata);
int verb_list(int argc, char *argv[], void *userdata);
int verb_get(int argc, char *argv[], void *userdata);
int verb_image(int argc, char *argv[], void *userdata);
