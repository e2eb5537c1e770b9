/* SPDX-License-Identifier: MIT */
/* host.h: host mode, the front that a browser talks to over stdin/stdout. */
#pragma once

#include <glib.h>

#include "config/config.h"
#include "base/origin.h"

G_BEGIN_DECLS

int nms_host_run (const NmsConfig *config, const NmsOrigin *origin);

G_END_DECLS
