/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Image references and OCI layout sources: whatever parses must print
 * back to a reference that parses to the same thing. */
#include "image-ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *s = strndup((const char *) data, size), *printed = NULL, *again = NULL;
        _cleanup_(image_ref_freep) ImageRef *r = NULL, *r2 = NULL;
        _cleanup_free_ char *dir = NULL, *tag = NULL;
        ErrorInfo e;

        if (!s)
                return 0;
        (void) digest_is_valid(s);
        if (image_source_kind(s) == IMAGE_SOURCE_OCI_LAYOUT)
                (void) oci_layout_source_parse(s, &dir, &tag, &e);
        if (image_ref_parse(s, &r, &e) < 0)
                return 0;
        printed = image_ref_to_string(r);
        assert(printed);
        assert(image_ref_parse(printed, &r2, &e) == 0);
        again = image_ref_to_string(r2);
        assert(again && streq(printed, again));
        assert(image_ref_manifest_reference(r));
        return 0;
}
