/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The D-Bus contract files in dbus/ against what the live daemon serves. */

#include <gio/gio.h>
#include <systemd/sd-bus.h>

/* Introspection XML of path on org.bpfhub.Manager1. */
char *contract_introspect(sd_bus *bus, const char *path);
/* dbus/<name>.xml, parsed. */
GDBusNodeInfo *contract_load(const char *name);
/* Same members, signatures, argument names, access and annotations. */
void contract_assert_interface_equal(GDBusInterfaceInfo *contract, GDBusInterfaceInfo *live);
/* The object at path serves interface exactly as dbus/<interface>.xml says. */
void contract_assert_object(sd_bus *bus, const char *path, const char *interface);
