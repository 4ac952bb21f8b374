/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "manager.h"

extern const sd_bus_vtable manager_vtable[];

/* Registers the manager object and the ObjectManager for the per-entity
 * objects below it. Call before requesting the bus name. */
int manager_bus_register(Manager *m);
