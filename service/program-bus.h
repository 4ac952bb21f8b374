/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "manager.h"

char *program_bus_path(uint32_t id);
char *link_bus_path(uint32_t id);

int program_bus_register(Manager *m);
/* Drops what the property getters cached (before the bus goes). */
void program_bus_done(void);

/* InterfacesAdded after an object appeared; InterfacesRemoved before it goes. */
void program_bus_emit_added(Manager *m, uint32_t program_id);
void program_bus_emit_removed(Manager *m, uint32_t program_id);
void link_bus_emit_added(Manager *m, uint32_t link_id);
void link_bus_emit_removed(Manager *m, uint32_t link_id);

/* Shared by the manager's methods and the objects' own. */
int bus_unload_program(Manager *m, sd_bus_message *msg, uint32_t id, sd_bus_error *error);
int bus_detach_link(Manager *m, sd_bus_message *msg, uint32_t id, sd_bus_error *error);

/* The one manager of this process, for handlers whose userdata is an entity. */
Manager *bus_manager(sd_bus *bus);
