/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bpfhub.conf and its drop-ins: any text, no crash, only sane values kept. */
#include "config.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        BpfhubConfig c;

        /* Warnings are the point of most inputs: keep them off stderr. */
        log_set_max_level(LOG_EMERG);
        if (size > CONFIG_FILE_SIZE_MAX || config_init(&c) < 0)
                return 0;
        (void) config_parse_text(&c, (const char *) data, size, "fuzz.conf");
        assert(c.state_dir && c.state_dir[0] == '/');
        assert(c.bpffs_root && c.bpffs_root[0] == '/');
        STRV_FOREACH(h, c.insecure_registries)
                assert(!strchr(*h, '/') && !strchr(*h, ' '));
        config_done(&c);
        return 0;
}
