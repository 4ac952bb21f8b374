/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "contract.h"
#include "fixture.h"

char *contract_introspect(sd_bus *bus, const char *path) {
        sd_bus_message *reply = NULL;
        const char *xml;
        char *copy;

        g_assert_cmpint(sd_bus_call_method(bus, BPFHUB_BUS_NAME, path, "org.freedesktop.DBus.Introspectable",
                                           "Introspect", NULL, &reply, NULL), >=, 0);
        g_assert_cmpint(sd_bus_message_read(reply, "s", &xml), >=, 0);
        copy = g_strdup(xml);
        sd_bus_message_unref(reply);
        return copy;
}

static void assert_annotations_equal(GDBusAnnotationInfo **a, GDBusAnnotationInfo **b, const char *what) {
        guint na = a ? g_strv_length((char **) a) : 0, nb = b ? g_strv_length((char **) b) : 0;

        if (na != nb)
                g_error("%s: %u annotations in the contract, %u live", what, na, nb);
        for (guint i = 0; i < na; i++) {
                g_assert_cmpstr(a[i]->key, ==, b[i]->key);
                g_assert_cmpstr(a[i]->value, ==, b[i]->value);
        }
}

static void assert_args_equal(GDBusArgInfo **a, GDBusArgInfo **b, const char *what) {
        guint na = a ? g_strv_length((char **) a) : 0, nb = b ? g_strv_length((char **) b) : 0;

        if (na != nb)
                g_error("%s: %u arguments in the contract, %u live", what, na, nb);
        for (guint i = 0; i < na; i++) {
                g_assert_cmpstr(a[i]->name, ==, b[i]->name);
                g_assert_cmpstr(a[i]->signature, ==, b[i]->signature);
        }
}

/* Compares a contract interface with the live one: same members, same
 * signatures, argument names, access and annotations. */
void contract_assert_interface_equal(GDBusInterfaceInfo *contract, GDBusInterfaceInfo *live) {
        guint n;

        n = contract->methods ? g_strv_length((char **) contract->methods) : 0;
        g_assert_cmpuint(n, ==, live->methods ? g_strv_length((char **) live->methods) : 0);
        for (guint i = 0; i < n; i++) {
                GDBusMethodInfo *c = contract->methods[i];
                GDBusMethodInfo *l = g_dbus_interface_info_lookup_method(live, c->name);
                if (!l)
                        g_error("method %s is in the contract but not served", c->name);
                assert_args_equal(c->in_args, l->in_args, c->name);
                assert_args_equal(c->out_args, l->out_args, c->name);
                assert_annotations_equal(c->annotations, l->annotations, c->name);
        }

        n = contract->properties ? g_strv_length((char **) contract->properties) : 0;
        g_assert_cmpuint(n, ==, live->properties ? g_strv_length((char **) live->properties) : 0);
        for (guint i = 0; i < n; i++) {
                GDBusPropertyInfo *c = contract->properties[i];
                GDBusPropertyInfo *l = g_dbus_interface_info_lookup_property(live, c->name);
                if (!l)
                        g_error("property %s is in the contract but not served", c->name);
                g_assert_cmpstr(c->signature, ==, l->signature);
                g_assert_cmpint(c->flags, ==, l->flags);
                assert_annotations_equal(c->annotations, l->annotations, c->name);
        }

        n = contract->signals ? g_strv_length((char **) contract->signals) : 0;
        g_assert_cmpuint(n, ==, live->signals ? g_strv_length((char **) live->signals) : 0);
        for (guint i = 0; i < n; i++) {
                GDBusSignalInfo *c = contract->signals[i];
                GDBusSignalInfo *l = g_dbus_interface_info_lookup_signal(live, c->name);
                if (!l)
                        g_error("signal %s is in the contract but not served", c->name);
                assert_args_equal(c->args, l->args, c->name);
        }
}

GDBusNodeInfo *contract_load(const char *name) {
        g_autofree char *file = g_strdup_printf("dbus/%s.xml", name);
        g_autofree char *path = fixture_source_path(file), *xml = NULL;
        g_autoptr(GError) error = NULL;
        GDBusNodeInfo *info;

        g_assert_true(g_file_get_contents(path, &xml, NULL, NULL));
        info = g_dbus_node_info_new_for_xml(xml, &error);
        g_assert_no_error(error);
        return info;
}

void contract_assert_object(sd_bus *bus, const char *path, const char *interface) {
        g_autofree char *live_xml = contract_introspect(bus, path);
        g_autoptr(GError) error = NULL;
        g_autoptr(GDBusNodeInfo) live = g_dbus_node_info_new_for_xml(live_xml, &error);
        g_autoptr(GDBusNodeInfo) contract = contract_load(interface);
        GDBusInterfaceInfo *l;

        g_assert_no_error(error);
        l = g_dbus_node_info_lookup_interface(live, interface);
        if (!l)
                g_error("%s does not serve %s", path, interface);
        contract_assert_interface_equal(g_dbus_node_info_lookup_interface(contract, interface), l);
}
