/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

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
        int exit_status;        /* set by verbs that fail in a specific way */
} Context;

/* Connects to the system bus, or to a remote one over ssh for --host. */
int acquire_bus(Context *c, sd_bus **ret);

/* Prints "what: message" and records the matching exit code. */
int report_bus_error(Context *c, const char *what, const sd_bus_error *error, int r);

/* Parses the common options; returns >0 to go on, 0 when --help or
 * --version was handled, <0 on a usage error. */
int parse_common_options(int argc, char *argv[], Context *c, bool in_verb);

int verb_status(int argc, char *argv[], void *userdata);
int verb_load(int argc, char *argv[], void *userdata);
int verb_attach(int argc, char *argv[], void *userdata);
int verb_detach(int argc, char *argv[], void *userdata);
int verb_unload(int argc, char *argv[], void *userdata);
int verb_list(int argc, char *argv[], void *userdata);
int verb_get(int argc, char *argv[], void *userdata);
