/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Manifests and indexes as a registry (or a hostile one) sends them. */
#include "image-ref.h"
#include "oci.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const char *const content_types[] = { NULL, OCI_MEDIA_MANIFEST, DOCKER_MEDIA_INDEX };
        ErrorInfo e;

        for (size_t i = 0; i < ELEMENTSOF(content_types); i++) {
                _cleanup_(oci_manifest_freep) OciManifest *m = NULL;
                const OciDescriptor *d;
                ImageFormat format;

                if (oci_manifest_parse(data, size, content_types[i], &m, &e) < 0) {
                        assert(e.error < 0 && e.message[0]);
                        continue;
                }
                if (m->kind == OCI_KIND_INDEX)
                        (void) oci_index_select(m, "amd64", &d, &e);
                else if (oci_manifest_bytecode_layer(m, &format, &d, &e) >= 0)
                        assert(d && d->digest && digest_is_valid(d->digest));
        }
        return 0;
}
