/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "json-util.h"

void json_add_string_or_null(json_object *j, const char *key, const char *value) {
        json_object_object_add(j, key, value ? json_object_new_string(value) : NULL);
}

json_object *json_new_strv(char **l) {
        json_object *a = json_object_new_array();

        if (!a)
                return NULL;
        STRV_FOREACH(s, l)
                json_object_array_add(a, json_object_new_string(*s));
        return a;
}

int json_read_string(json_object *j, const char *key, JsonFieldFlags flags, char **ret) {
        json_object *v;

        *ret = NULL;
        if (!json_object_object_get_ex(j, key, &v))
                return flags & JSON_OPTIONAL ? 0 : -EBADMSG;
        if (!v)
                return flags & JSON_NULLABLE ? 0 : -EBADMSG;
        if (!json_object_is_type(v, json_type_string))
                return -EBADMSG;
        *ret = strdup(json_object_get_string(v));
        return *ret ? 0 : -ENOMEM;
}

int json_read_u64(json_object *j, const char *key, uint64_t max, uint64_t *ret) {
        json_object *v;

        if (!json_object_object_get_ex(j, key, &v) || !json_object_is_type(v, json_type_int))
                return -EBADMSG;
        *ret = json_object_get_uint64(v);
        return *ret > max ? -ERANGE : 0;
}

uint64_t json_u64_or_zero(json_object *j, const char *key) {
        json_object *v;

        return json_object_object_get_ex(j, key, &v) && json_object_is_type(v, json_type_int) ? json_object_get_uint64(v) : 0;
}

int json_read_strv(json_object *j, const char *key, char ***ret) {
        json_object *a;
        size_t n;
        int r;

        if (!json_object_object_get_ex(j, key, &a) || !json_object_is_type(a, json_type_array))
                return -EBADMSG;
        n = json_object_array_length(a);
        for (size_t i = 0; i < n; i++) {
                json_object *s = json_object_array_get_idx(a, i);
                if (!json_object_is_type(s, json_type_string))
                        return -EBADMSG;
                r = strv_extend(ret, json_object_get_string(s));
                if (r < 0)
                        return r;
        }
        return 0;
}
