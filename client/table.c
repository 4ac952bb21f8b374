/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <wchar.h>

#include "table.h"

typedef struct Cell {
        char *text;
        CellColor color;
} Cell;

struct Table {
        size_t n_columns;
        char **headers;
        Cell *cells;
        size_t n_cells;
};

Table *table_new(size_t n_columns, const char *const *headers) {
        Table *t = calloc(1, sizeof(Table));

        if (!t)
                return NULL;
        t->n_columns = n_columns;
        t->headers = calloc(n_columns + 1, sizeof(char *));
        if (!t->headers)
                return table_free(t);
        for (size_t i = 0; i < n_columns; i++) {
                t->headers[i] = strdup(headers[i]);
                if (!t->headers[i])
                        return table_free(t);
        }
        return t;
}

Table *table_free(Table *t) {
        if (!t)
                return NULL;
        strv_free(t->headers);
        for (size_t i = 0; i < t->n_cells; i++)
                free(t->cells[i].text);
        free(t->cells);
        return mfree(t);
}

int table_add_cell(Table *t, const char *text, CellColor color) {
        Cell *c = reallocarray(t->cells, t->n_cells + 1, sizeof(Cell));

        if (!c)
                return -ENOMEM;
        t->cells = c;
        c[t->n_cells].text = strdup(strempty(text));
        if (!c[t->n_cells].text)
                return -ENOMEM;
        c[t->n_cells].color = color;
        t->n_cells++;
        return 0;
}

size_t table_get_rows(const Table *t) {
        return (t->n_cells + t->n_columns - 1) / t->n_columns;
}

/* Terminal columns a UTF-8 string takes: translated headers may be CJK. */
size_t display_width(const char *s) {
        mbstate_t st = {};
        size_t w = 0;

        while (*s) {
                wchar_t wc;
                size_t n = mbrtowc(&wc, s, MB_CUR_MAX, &st);
                if (n == (size_t) -1 || n == (size_t) -2) {
                        w += strlen(s);
                        break;
                }
                int cw = wcwidth(wc);
                w += cw > 0 ? (size_t) cw : 0;
                s += n;
        }
        return w;
}

static void print_cell(FILE *f, const char *text, CellColor color, size_t pad, bool colors) {
        const char *on = !colors ? "" : color == CELL_GOOD ? "\x1b[0;1;32m" : color == CELL_BAD ? "\x1b[0;1;31m" : "";

        fprintf(f, "%s%s%s%*s", on, text, *on ? "\x1b[0m" : "", (int) pad, "");
}

int table_print(const Table *t, FILE *f, bool legend, bool colors) {
        _cleanup_free_ size_t *widths = calloc(t->n_columns, sizeof(size_t));
        size_t n_rows = table_get_rows(t);

        if (!widths)
                return -ENOMEM;
        for (size_t c = 0; c < t->n_columns; c++)
                if (legend)
                        widths[c] = display_width(t->headers[c]);
        for (size_t i = 0; i < t->n_cells; i++) {
                size_t w = display_width(t->cells[i].text);
                if (w > widths[i % t->n_columns])
                        widths[i % t->n_columns] = w;
        }

        if (legend) {
                for (size_t c = 0; c < t->n_columns; c++) {
                        bool last = c + 1 == t->n_columns;
                        size_t pad = last ? 0 : widths[c] - display_width(t->headers[c]) + 1;
                        fputs(colors ? "\x1b[0;1;39m" : "", f);
                        fputs(t->headers[c], f);
                        fputs(colors ? "\x1b[0m" : "", f);
                        fprintf(f, "%*s", (int) pad, "");
                }
                fputc('\n', f);
        }
        for (size_t r = 0; r < n_rows; r++) {
                for (size_t c = 0; c < t->n_columns; c++) {
                        size_t i = r * t->n_columns + c;
                        bool last = c + 1 == t->n_columns;
                        const char *text = i < t->n_cells ? t->cells[i].text : "";
                        CellColor color = i < t->n_cells ? t->cells[i].color : CELL_PLAIN;
                        size_t pad = last ? 0 : widths[c] - display_width(text) + 1;
                        print_cell(f, text, color, pad, colors);
                }
                fputc('\n', f);
        }
        return 0;
}
