/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "macro.h"

/* Pipes our stdout through $BPFHUB_PAGER, $PAGER or "less" when stdout is a
 * terminal. Does nothing when disabled or when the pager is "" or "cat". */
int pager_open(bool disabled);
void pager_close(void);
