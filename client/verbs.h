/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "macro.h"

#define VERB_ANY ((unsigned) -1)

typedef enum VerbFlags {
        VERB_DEFAULT = 1 << 0,  /* run when no verb is given */
} VerbFlags;

typedef struct Verb {
        const char *name;
        unsigned min_args, max_args;    /* counting the verb itself */
        VerbFlags flags;
        int (*dispatch)(int argc, char *argv[], void *userdata);
} Verb;

/* Finds the verb named by argv[0] (or the default one) and runs it.
 * Returns -EINVAL with a message printed for unknown verbs or a wrong
 * number of arguments. */
int dispatch_verb(int argc, char *argv[], const Verb verbs[], void *userdata);
