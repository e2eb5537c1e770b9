/* SPDX-License-Identifier: MIT */
/* cli-private.h: what the command-line files share: the usage and error
 * exits and the request runner of cli.c, and the commands that live in
 * files of their own. Not installed. */
#pragma once

#include <cjson/cJSON.h>
#include <glib.h>

#include "nmstore/config.h"
#include "nmstore/crypto.h"
#include "nmstore/progress.h"
#include "nmstore/origin.h"
#include "nmstore/store.h"

G_BEGIN_DECLS

#define NMS_CLI_EXIT_USAGE 2

/* A mistake in how a command was called (a malformed --origin, say), as
 * opposed to a failure while running it: nms_cli_fail_error exits with
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
gboolean        nms_cli_unlock_for_person (NmsStore *store, const NmsOrigin *origin, const NmsCliUnlock *unlock,
                                           GError **error);
int             nms_cli_fail_usage       (GOptionContext *context, const char *message);
int             nms_cli_fail_error       (const GError *error);
NmsConfig      *nms_cli_load_config      (GError **error);
/* nms_origin_parse for an --origin the person typed: its errors are
 * NMS_CLI_ERROR_USAGE. */
NmsOrigin      *nms_cli_parse_origin     (const char *text, GError **error);
/* --origin, --prefix where prefix is not NULL, and --passphrase-fd where
 * passphrase_fd is not NULL (set to -1 here). */
GOptionContext *nms_cli_store_context    (const char *args, char **origin, char **prefix, gint *passphrase_fd);
/* Runs one request through the protocol's code (nms_proto_run_one): its
 * result, parsed, without id and ok; or NULL with its error, the message
 * led by the reply's code ("E_LOCKED: ..."). */
cJSON          *nms_cli_run_request      (const char *origin_text, const NmsCliUnlock *unlock, cJSON *request,
                                          GError **error);
cJSON          *nms_cli_run_request_text (const char *origin_text, const NmsCliUnlock *unlock, const char *text,
                                          gsize len, GError **error);

/* cli-install.c */
int nms_cli_install   (int argc, char **argv);
int nms_cli_uninstall (int argc, char **argv);
int nms_cli_doctor    (int argc, char **argv);
int nms_cli_extensions (int argc, char **argv);

/* cli-origins.c */
int nms_cli_origins (int argc, char **argv);

/* cli-session.c */
int nms_cli_session (int argc, char **argv);
/* cli-archive.c */
int nms_cli_export  (int argc, char **argv);
int nms_cli_import  (int argc, char **argv);
int nms_cli_backup  (int argc, char **argv);
int nms_cli_restore (int argc, char **argv);
/* cli-crypt.c */
int nms_cli_encrypt (int argc, char **argv);
int nms_cli_decrypt (int argc, char **argv);
int nms_cli_passwd  (int argc, char **argv);
int nms_cli_rekey   (int argc, char **argv);
int nms_cli_verify  (int argc, char **argv);

G_END_DECLS
