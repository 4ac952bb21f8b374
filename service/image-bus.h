/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "manager.h"
#include "program.h"
#include "pull.h"

/* Images and transfers on the bus: Manager1's image methods, Image1 objects
 * below /org/bpfhub/Manager1/image/ and Transfer1 objects below
 * /org/bpfhub/Manager1/transfer/. */

int image_bus_register(Manager *m);
void image_bus_done(Manager *m);

int method_pull_image(sd_bus_message *msg, void *userdata, sd_bus_error *error);
int method_list_images(sd_bus_message *msg, void *userdata, sd_bus_error *error);
int method_get_image(sd_bus_message *msg, void *userdata, sd_bus_error *error);
int method_remove_image(sd_bus_message *msg, void *userdata, sd_bus_error *error);
int method_prune_images(sd_bus_message *msg, void *userdata, sd_bus_error *error);

/* Checks an image source given to Load (registry reference or oci:<dir>:<tag>)
 * and the pull options, before authorization. */
int image_bus_check_source(const char *source, const char *pull_policy, const char *registry_auth,
                           sd_bus_error *error);

/* After authorization: makes the image's bytecode available to req (path
 * /proc/self/fd/N of *ret_object_fd, image_reference, image_digest). Returns 1 when req is ready, 0
 * when a pull was started: then req was taken over, and the load finishes
 * (and msg is answered) through manager_bus_finish_load() when it ends. */
int image_bus_prepare_load(Manager *m, sd_bus_message *msg, LoadRequest *req, const char *source,
                           const char *pull_policy, const char *registry_auth, int *ret_object_fd,
                           sd_bus_error *error);

/* Loads req and answers msg (defined in manager-bus.c). */
int manager_bus_finish_load(Manager *m, sd_bus_message *msg, LoadRequest *req, sd_bus_error *error);

/* Image1.UsedBy of the image named reference changed (a program from it came or went). */
void image_bus_emit_used_by_changed(Manager *m, const char *reference);

/* True while a transfer runs (the daemon must not exit). */
bool image_bus_busy(Manager *m);
