/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

#include "errors.h"

/* errno ↔ error name mapping, registered once per process. */
extern const sd_bus_error_map bpfhub_bus_error_map[];
