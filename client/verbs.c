/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <libintl.h>

#include "log.h"
#include "verbs.h"

#define _(s) gettext(s)

int dispatch_verb(int argc, char *argv[], const Verb verbs[], void *userdata) {
        const Verb *verb = NULL;
        const char *name = argc > 0 ? argv[0] : NULL;
        unsigned n_args = (unsigned) argc;

        for (const Verb *v = verbs; v->name; v++) {
                if (name ? streq(v->name, name) : (v->flags & VERB_DEFAULT)) {
                        verb = v;
                        break;
                }
        }
        if (!verb) {
                if (!name)
                        return log_error_errno(EINVAL, "%s", _("Command verb required."));
                return log_error_errno(EINVAL, _("Unknown command verb '%s'. See --help."), name);
        }

        if (!name)
                n_args = 1;
        if (verb->min_args != VERB_ANY && n_args < verb->min_args)
                return log_error_errno(EINVAL, _("Too few arguments for '%s'."), verb->name);
        if (verb->max_args != VERB_ANY && n_args > verb->max_args)
                return log_error_errno(EINVAL, _("Too many arguments for '%s'."), verb->name);

        if (!name) {
                char *fake[] = { (char *) verb->name, NULL };
                return verb->dispatch(1, fake, userdata);
        }
        return verb->dispatch(argc, argv, userdata);
}
