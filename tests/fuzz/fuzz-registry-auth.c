/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* WWW-Authenticate challenges, auth files and --registry-auth values. */
#include "registry-auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *s = strndup((const char *) data, size);
        _cleanup_(auth_challenge_done) AuthChallenge ch = {};
        RegistryCredentials c;
        ErrorInfo e;

        if (!s)
                return 0;
        if (auth_challenge_parse(s, &ch) >= 0)
                assert(ch.scheme != AUTH_SCHEME_BEARER || ch.realm);
        if (registry_auth_file_lookup((const char *) data, size, "quay.io", "org/repo", &c) >= 0) {
                assert(c.username && c.password);
                registry_credentials_done(&c);
        }
        if (registry_credentials_from_base64(s, &c, &e) >= 0) {
                assert(c.username && c.username[0] && c.password);
                registry_credentials_done(&c);
        }
        return 0;
}
