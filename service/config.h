/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "macro.h"
#include "time-util.h"

#define BPFHUB_DEFAULT_IDLE_TIMEOUT (30 * USEC_PER_SEC)
/* A config file larger than this is certainly not hand-written. */
#define CONFIG_FILE_SIZE_MAX (1024 * 1024)

typedef struct BpfhubConfig {
        char *config_dir;
        char *state_dir;
        char *bpffs_root;
        char *image_store;
        usec_t idle_timeout;    /* 0 or USEC_INFINITY: never exit when idle */
        int log_level;          /* -1: not set */
        char **insecure_registries;     /* [Registries] Insecure=: host[:port] reached over plain HTTP */
        char **warnings;        /* "file:line: problem", one per ignored line */
} BpfhubConfig;

int config_init(BpfhubConfig *c);
void config_done(BpfhubConfig *c);

/* Reads <config_dir>/bpfhub.conf and then <config_dir>/bpfhub.conf.d/\*.conf in
 * lexical order; later settings win. Missing files are fine. Lines that cannot
 * be used are skipped and recorded in c->warnings. */
int config_load(BpfhubConfig *c);

/* Parses one file's text; "origin" names it in warnings. */
int config_parse_text(BpfhubConfig *c, const char *text, size_t size, const char *origin);

int config_set_path(char **field, const char *value);
