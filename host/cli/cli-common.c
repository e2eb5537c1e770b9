/* SPDX-License-Identifier: MIT */
/* cli-common.c: what every command of the command line shares: the usage
 * and error exits, loading the config, reading --origin and the storage
 * options, unlocking for a person, and running a request through the
 * protocol's code. It lives below cli.c (the dispatch) and every cli-X.c,
 * so that no command file calls back up into cli.c. */
#include "cli-common.h"
#include "base/error.h"
#include "config/keysource.h"
#include "base/log.h"
#include "proto/proto.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

static int
fail_usage (GOptionContext *context, const char *message)
{
  g_autofree char *help = g_option_context_get_help (context, TRUE, NULL);

  g_printerr ("nmstore: %s\n\n%s", message, help);
  return NMS_CLI_EXIT_USAGE;
}

G_DEFINE_QUARK (nms-cli-error-quark, nms_cli_error)

static int
fail_error (const GError *error)
{
  fprintf (stderr, "nmstore: %s\n", error->message);
  return g_error_matches (error, NMS_CLI_ERROR, NMS_CLI_ERROR_USAGE) ? NMS_CLI_EXIT_USAGE : EXIT_FAILURE;
}

int
_nms_cli_fail_usage (GOptionContext *context, const char *message)
{
  return fail_usage (context, message);
}

int
_nms_cli_fail_error (const GError *error)
{
  return fail_error (error);
}

/* Loads the config of the data root and sets up logging. */
NmsConfig *
_nms_cli_load_config (GError **error)
{
  NmsConfig *config = nms_config_load (NULL, error);

  if (config != NULL)
    nms_log_init (config->log_file);
  return config;
}

NmsOrigin *
_nms_cli_parse_origin (const char *text, GError **error)
{
  g_autoptr(GError) local = NULL;
  NmsOrigin *origin = nms_origin_parse (text, &local);

  if (origin == NULL)
    g_set_error (error, NMS_CLI_ERROR, NMS_CLI_ERROR_USAGE, "--origin: %s", local->message);
  return origin;
}

/* A person at the command line stands where the browser's unlock op
 * would: a locked passphrase origin is opened before the command works
 * on it, whether through a request or on the store itself. */
gboolean
_nms_cli_unlock_for_person (NmsStore *store, const NmsOrigin *origin, const NmsCliUnlock *unlock, GError **error)
{
  g_autoptr(NmsCryptoSecret) passphrase = NULL;
  g_autofree char *prompt = NULL;

  if (!nms_store_locked (store) || nms_store_key_source (store) != NMS_CRYPTO_SOURCE_PASSPHRASE)
    return TRUE;
  if (unlock->first_try != NULL && nms_store_unlock (store, unlock->first_try, NULL))
    return TRUE;
  prompt = g_strdup_printf ("Passphrase of %s: ", origin->canonical);
  if ((passphrase = nms_keysource_read_passphrase (unlock->fd, prompt, error)) == NULL)
    {
      g_prefix_error (error, "%s is encrypted with a passphrase and locked: ", origin->canonical);
      return FALSE;
    }
  return nms_store_unlock (store, passphrase, error);
}

/* Runs one request, given as JSON text, on origin's store, through the
 * protocol's own code. Returns what the reply holds besides id and ok, as
 * the protocol wrote it (nms_proto_run_one); or NULL with the reply's
 * error, its message led by its code as the reply would name it. */
char *
_nms_cli_run_request_result (const char *origin_text, const NmsCliUnlock *unlock, const char *text, gsize len,
                             gsize *result_len, GError **error)
{
  g_autoptr(NmsConfig) config = NULL;
  g_autoptr(NmsOrigin) origin = NULL;
  g_autoptr(NmsProto) proto = NULL;
  NmsStore *store;
  g_autofree char *copy = NULL;
  GError *failure = NULL;
  NmsProtoInput input;
  char *result;

  if ((origin = _nms_cli_parse_origin (origin_text, error)) == NULL
      || (config = _nms_cli_load_config (error)) == NULL)
    return NULL;
  proto = nms_proto_new (config, origin);
  nms_proto_set_progress (proto, unlock->progress != NULL ? nms_progress_step : NULL, unlock->progress);
  /* A store that cannot be opened is the request's to report. */
  store = nms_proto_store (proto);
  if (store != NULL && !_nms_cli_unlock_for_person (store, origin, unlock, error))
    return NULL;
  /* The protocol may rewrite its input in place; the copy is made only
   * once it will be used, and wiped after. */
  copy = g_strndup (text, len);
  input = (NmsProtoInput) { (guint8 *) copy, len };
  result = nms_proto_run_one (proto, &input, result_len, &failure);
  /* The request may carry values of an encrypted origin. */
  sodium_memzero (copy, len);
  if (result == NULL)
    g_propagate_prefixed_error (error, failure, "%s: ",
                                nms_error_code_name (failure->domain == NMS_ERROR ? failure->code
                                                                                  : NMS_ERROR_INTERNAL));
  return result;
}

cJSON *
_nms_cli_run_request_text (const char *origin_text, const NmsCliUnlock *unlock, const char *text, gsize len,
                          GError **error)
{
  gsize result_len = 0;
  g_autofree char *result = _nms_cli_run_request_result (origin_text, unlock, text, len, &result_len, error);
  cJSON *reply;

  if (result == NULL)
    return NULL;
  if ((reply = cJSON_ParseWithLength (result, result_len)) == NULL)
    g_set_error (error, NMS_ERROR, NMS_ERROR_INTERNAL, "E_INTERNAL: a reply this command cannot read: %s", result);
  return reply;
}

cJSON *
_nms_cli_run_request (const char *origin_text, const NmsCliUnlock *unlock, cJSON *request, GError **error)
{
  g_autofree char *text = cJSON_PrintUnformatted (request);

  return _nms_cli_run_request_text (origin_text, unlock, text, strlen (text), error);
}

/* The storage commands share --origin and, where they apply, --prefix and
 * --passphrase-fd. */
GOptionContext *
_nms_cli_store_context (const char *args, char **origin, char **prefix, gint *passphrase_fd)
{
  GOptionContext *context = g_option_context_new (args);
  GOptionEntry origin_entries[] = {
    { "origin", 'o', 0, G_OPTION_ARG_STRING, origin,
      "The extension's origin: chrome-extension://ID/, the 32-letter ID alone, or a Firefox add-on id", "ORIGIN" },
    { NULL }
  };
  GOptionEntry prefix_entries[] = {
    { "prefix", 'p', 0, G_OPTION_ARG_STRING, prefix, "Only keys that start with PREFIX", "PREFIX" },
    { NULL }
  };
  GOptionEntry passphrase_entries[] = {
    { "passphrase-fd", 0, 0, G_OPTION_ARG_INT, passphrase_fd,
      "Read the passphrase of a locked origin from file descriptor N, one line (default: ask on the terminal)", "N" },
    { NULL }
  };

  g_option_context_add_main_entries (context, origin_entries, NULL);
  if (prefix != NULL)
    g_option_context_add_main_entries (context, prefix_entries, NULL);
  if (passphrase_fd != NULL)
    {
      *passphrase_fd = -1;
      g_option_context_add_main_entries (context, passphrase_entries, NULL);
    }
  return context;
}
