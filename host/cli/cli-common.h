/* SPDX-License-Identifier: MIT */
/* cli-common.h: what every command-line file shares (cli-common.c): the
 * usage and error exits, the storage options and the request runner. Not
 * installed. */
#pragma once

#include <cjson/cJSON.h>
#include <glib.h>

#include "config/config.h"
#include "crypto/crypto.h"
#include "base/progress.h"
#include "base/origin.h"
#include "store/store.h"

G_BEGIN_DECLS

#define NMS_CLI_EXIT_USAGE 2

/* A mistake in how a command was called (a malformed --origin, say), as
 * opposed to a failure while running it: _nms_cli_fail_error exits with
 * NMS_CLI_EXIT_USAGE for errors of this domain, 1 for any other. */
#define NMS_CLI_ERROR (nms_cli_error_quark ())
typedef enum {
  NMS_CLI_ERROR_USAGE,
} NmsCliErrorCode;
GQuark nms_cli_error_quark (void);

/* How a storage command opens an origin locked behind a passphrase: with
 * first_try when there is one (a passphrase the command already read),
 * else with one read from fd, or asked for on the terminal when fd < 0. */
typedef struct {
  gint                   fd;
  const NmsCryptoSecret *first_try;
  NmsProgress           *progress;   /* for a request that walks a whole session; may be NULL */
} NmsCliUnlock;

/* The one way a command unlocks an origin's store for a person: a store
 * locked behind a passphrase is opened as unlock says; any other is left
 * as it is. */
gboolean        _nms_cli_unlock_for_person (NmsStore *store, const NmsOrigin *origin, const NmsCliUnlock *unlock,
                                           GError **error);
int             _nms_cli_fail_usage       (GOptionContext *context, const char *message);
int             _nms_cli_fail_error       (const GError *error);
NmsConfig      *_nms_cli_load_config      (GError **error);
/* nms_origin_parse for an --origin the person typed: its errors are
 * NMS_CLI_ERROR_USAGE. */
NmsOrigin      *_nms_cli_parse_origin     (const char *text, GError **error);
/* --origin, --prefix where prefix is not NULL, and --passphrase-fd where
 * passphrase_fd is not NULL (set to -1 here). */
GOptionContext *_nms_cli_store_context    (const char *args, char **origin, char **prefix, gint *passphrase_fd);
/* Runs one request through the protocol's code (nms_proto_run_one): its
 * result, parsed, without id and ok; or NULL with its error, the message
 * led by the reply's code ("E_LOCKED: ..."). */
cJSON          *_nms_cli_run_request      (const char *origin_text, const NmsCliUnlock *unlock, cJSON *request,
                                          GError **error);
cJSON          *_nms_cli_run_request_text (const char *origin_text, const NmsCliUnlock *unlock, const char *text,
                                          gsize len, GError **error);
/* The same, with the result as the protocol wrote it (result_len bytes),
 * not parsed: for printing it exactly, strings with U+0000 included. */
char           *_nms_cli_run_request_result (const char *origin_text, const NmsCliUnlock *unlock, const char *text,
                                             gsize len, gsize *result_len, GError **error);

G_END_DECLS
