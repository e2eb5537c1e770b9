/* SPDX-License-Identifier: MIT */
/* error.h: the one GError domain every nmstore module reports through.
 *
 * Each code maps one-to-one onto a protocol error code ("E_IO" and so on),
 * so a failure deep in the store reaches the browser without translation
 * tables in between. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define NMS_ERROR (nms_error_quark ())

typedef enum {
  NMS_ERROR_JSON,        /* E_JSON: not UTF-8, not JSON, or an empty frame */
  NMS_ERROR_REQUEST,     /* E_REQUEST: well-formed JSON of the wrong shape */
  NMS_ERROR_UNKNOWN_OP,  /* E_UNKNOWN_OP */
  NMS_ERROR_KEY,         /* E_KEY: empty, too long, or containing NUL */
  NMS_ERROR_TOO_LARGE,   /* E_TOO_LARGE: a frame over maxRequestBytes */
  NMS_ERROR_QUOTA,       /* E_QUOTA: the write would exceed quota_bytes */
  NMS_ERROR_IO,          /* E_IO: the disk or the file system failed */
  NMS_ERROR_CORRUPT,     /* E_CORRUPT: stored data failed its check */
  NMS_ERROR_ORIGIN,      /* E_ORIGIN: a caller identity that is not well formed */
  NMS_ERROR_CONFIG,      /* E_CONFIG: nmstore.conf cannot be used */
  NMS_ERROR_BUSY,        /* E_BUSY: another process held the store too long */
  NMS_ERROR_INTERNAL,    /* E_INTERNAL: a bug; never expected */
  NMS_ERROR_LOCKED,      /* E_LOCKED: the store is encrypted and not unlocked */
  NMS_ERROR_AUTH,        /* E_AUTH: a passphrase or key that does not open the store */
} NmsErrorCode;

GQuark       nms_error_quark     (void);
const char  *nms_error_code_name (int code);

G_END_DECLS
