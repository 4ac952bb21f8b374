/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "macro.h"

typedef struct Table Table;

typedef enum CellColor {
        CELL_PLAIN,
        CELL_GOOD,
        CELL_BAD,
} CellColor;

/* Terminal columns a UTF-8 string takes (CJK characters take two). */
size_t display_width(const char *s);

Table *table_new(size_t n_columns, const char *const *headers);
Table *table_free(Table *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(Table *, table_free);

/* Appends one cell; rows fill left to right. */
int table_add_cell(Table *t, const char *text, CellColor color);
size_t table_get_rows(const Table *t);

/* Prints with aligned columns; the header only with "legend". Colors only
 * when "colors" is true. */
int table_print(const Table *t, FILE *f, bool legend, bool colors);
