/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-c/json.h>

#include "macro.h"

/* Reading our own records: what a field may be besides a value. */
typedef enum JsonFieldFlags {
        JSON_NULLABLE = 1 << 0, /* present as null: reads as NULL */
        JSON_OPTIONAL = 1 << 1, /* absent: reads as NULL */
} JsonFieldFlags;

static inline void json_object_putp(json_object **j) {
        if (*j)
                json_object_put(*j);
}
#define _cleanup_json_ _cleanup_(json_object_putp)

/* Adds key: value, or key: null when value is NULL. */
void json_add_string_or_null(json_object *j, const char *key, const char *value);
/* A JSON array of the strings, or NULL on OOM. */
json_object *json_new_strv(char **l);

/* -EBADMSG for a wrong type, or a missing/null value the flags do not allow. */
int json_read_string(json_object *j, const char *key, JsonFieldFlags flags, char **ret);
/* A mandatory integer no larger than max: -EBADMSG, or -ERANGE above max. */
int json_read_u64(json_object *j, const char *key, uint64_t max, uint64_t *ret);
/* An integer where a missing or non-integer field counts as 0. */
uint64_t json_u64_or_zero(json_object *j, const char *key);
/* A mandatory array of strings, appended to *ret. */
int json_read_strv(json_object *j, const char *key, char ***ret);
