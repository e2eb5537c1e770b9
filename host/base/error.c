/* SPDX-License-Identifier: MIT */
/* error.c: the NMS_ERROR domain and its protocol names. */
#include "base/error.h"

G_DEFINE_QUARK (nms-error-quark, nms_error)

const char *
nms_error_code_name (int code)
{
  switch ((NmsErrorCode) code)
    {
    case NMS_ERROR_JSON:       return "E_JSON";
    case NMS_ERROR_REQUEST:    return "E_REQUEST";
    case NMS_ERROR_UNKNOWN_OP: return "E_UNKNOWN_OP";
    case NMS_ERROR_KEY:        return "E_KEY";
    case NMS_ERROR_TOO_LARGE:  return "E_TOO_LARGE";
    case NMS_ERROR_QUOTA:      return "E_QUOTA";
    case NMS_ERROR_IO:         return "E_IO";
    case NMS_ERROR_CORRUPT:    return "E_CORRUPT";
    case NMS_ERROR_ORIGIN:     return "E_ORIGIN";
    case NMS_ERROR_CONFIG:     return "E_CONFIG";
    case NMS_ERROR_BUSY:       return "E_BUSY";
    case NMS_ERROR_INTERNAL:   return "E_INTERNAL";
    case NMS_ERROR_LOCKED:     return "E_LOCKED";
    case NMS_ERROR_AUTH:       return "E_AUTH";
    }
  return "E_INTERNAL";
}
