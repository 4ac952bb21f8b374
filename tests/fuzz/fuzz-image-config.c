/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Image configs and the bpfman labels inside them. */
#include "oci.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(image_config_freep) ImageConfig *c = NULL;
        char *names[] = { (char *) "xdp_stats", NULL };
        ErrorInfo e;

        if (image_config_parse(data, size, &c, &e) < 0)
                return 0;
        assert(strv_length(c->labels) % 2 == 0);
        assert(strv_length(c->programs) % 2 == 0);
        (void) image_config_check_programs(c, names, &e);
        return 0;
}
