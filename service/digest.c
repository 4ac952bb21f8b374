/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <gnutls/crypto.h>

#include "digest.h"

struct Sha256 {
        gnutls_hash_hd_t hd;
};

int sha256_new(Sha256 **ret) {
        Sha256 *h = calloc(1, sizeof(*h));

        if (!h)
                return -ENOMEM;
        if (gnutls_hash_init(&h->hd, GNUTLS_DIG_SHA256) < 0) {
                free(h);
                return -EIO;
        }
        *ret = h;
        return 0;
}

void sha256_update(Sha256 *h, const void *data, size_t size) {
        if (size > 0)
                (void) gnutls_hash(h->hd, data, size);
}

void sha256_finish(Sha256 *h, char out[static DIGEST_STRING_MAX]) {
        uint8_t raw[32];

        gnutls_hash_deinit(h->hd, raw);
        h->hd = NULL;
        free(h);
        memcpy(out, "sha256:", 7);
        for (size_t i = 0; i < sizeof raw; i++)
                snprintf(out + 7 + 2 * i, 3, "%02x", raw[i]);
}

Sha256 *sha256_free(Sha256 *h) {
        if (h) {
                if (h->hd)
                        gnutls_hash_deinit(h->hd, NULL);
                free(h);
        }
        return NULL;
}

int sha256_buffer(const void *data, size_t size, char out[static DIGEST_STRING_MAX]) {
        Sha256 *h;
        int r = sha256_new(&h);

        if (r < 0)
                return r;
        sha256_update(h, data, size);
        sha256_finish(h, out);
        return 0;
}

int sha256_fd(int fd, char out[static DIGEST_STRING_MAX], uint64_t *ret_size) {
        _cleanup_(sha256_freep) Sha256 *h = NULL;
        uint8_t buf[64 * 1024];
        uint64_t total = 0;
        off_t offset = 0;
        int r;

        r = sha256_new(&h);
        if (r < 0)
                return r;
        for (;;) {
                ssize_t n = pread(fd, buf, sizeof buf, offset);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                sha256_update(h, buf, (size_t) n);
                offset += n;
                total += (uint64_t) n;
        }
        sha256_finish(TAKE_PTR(h), out);
        if (ret_size)
                *ret_size = total;
        return 0;
}
