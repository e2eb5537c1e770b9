/* SPDX-License-Identifier: MIT */
/* cli-archive.c: the commands for moving data: export, import, backup and
 * restore. They open the origin's store themselves and leave the formats
 * to archive*.c; each reports progress on standard error (progress.h)
 * unless --quiet. Import of standard input is a protocol request. */
#include "cli-common.h"
#include "cli-private.h"
#include "archive/archive.h"
#include "base/error.h"
#include "config/keysource.h"
#include "base/origin.h"
#include "base/progress.h"
#include "session/session.h"   /* g_autoptr for cJSON */
#include "config/store-origin.h"
#include "store/store.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

static NmsStore *
open_store (const char *origin_text, NmsOrigin **origin_out, GError **error)
{
  g_autoptr(NmsOrigin) origin = _nms_cli_parse_origin (origin_text, error);
  g_autoptr(NmsConfig) config = NULL;
  NmsStore *store;

  if (origin == NULL || (config = _nms_cli_load_config (error)) == NULL)
    return NULL;
  store = nms_store_open_origin (config, origin, error);
  if (store != NULL && origin_out != NULL)
    *origin_out = g_steal_pointer (&origin);
  return store;
}

/* A store locked behind a passphrase is opened with one read from
 * passphrase_fd, or asked for on the terminal. */
static gboolean
unlock_for_person (NmsStore *store, const NmsOrigin *origin, gint passphrase_fd, GError **error)
{
  NmsCliUnlock unlock = { passphrase_fd, NULL, NULL };

  return _nms_cli_unlock_for_person (store, origin, &unlock, error);
}

/* What export and backup read from the command line, and the store they
 * copy from. */
typedef struct {
  char      *origin_text;
  char      *prefix;         /* export only */
  gint       passphrase_fd;
  gboolean   decrypt;
  gboolean   quiet;
  NmsStore  *store;
  NmsOrigin *origin;
} CopyCommand;

static void
copy_command_clear (CopyCommand *cmd)
{
  g_free (cmd->origin_text);
  g_free (cmd->prefix);
  g_clear_pointer (&cmd->store, nms_store_free);
  g_clear_pointer (&cmd->origin, nms_origin_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CopyCommand, copy_command_clear)

/* Export and backup open alike: the storage options (--prefix where
 * with_prefix), --decrypt and --quiet; n_args arguments; the origin's
 * store; and --decrypt refused for an origin that is not encrypted, since
 * there is nothing to decrypt. FALSE: the command ends with *exit_code. */
static gboolean
copy_command_open (int *argc, char ***argv, const char *args, gboolean with_prefix, const char *decrypt_help,
                   int n_args, const char *usage, CopyCommand *cmd, int *exit_code)
{
  g_autoptr(GOptionContext) context = _nms_cli_store_context (args, &cmd->origin_text,
                                                             with_prefix ? &cmd->prefix : NULL,
                                                             &cmd->passphrase_fd);
  g_autoptr(GError) error = NULL;
  GOptionEntry crypt_entries[] = {
    { "decrypt", 0, 0, G_OPTION_ARG_NONE, &cmd->decrypt, decrypt_help, NULL },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &cmd->quiet, "Print no progress on standard error", NULL },
    { NULL }
  };

  g_option_context_add_main_entries (context, crypt_entries, NULL);
  if (!g_option_context_parse (context, argc, argv, &error))
    *exit_code = _nms_cli_fail_usage (context, error->message);
  else if (cmd->origin_text == NULL || *argc != n_args)
    *exit_code = _nms_cli_fail_usage (context, usage);
  else if ((cmd->store = open_store (cmd->origin_text, &cmd->origin, &error)) == NULL)
    *exit_code = _nms_cli_fail_error (error);
  else if (cmd->decrypt && !nms_store_encrypted (cmd->store))
    {
      g_printerr ("nmstore: %s is not encrypted; leave out --decrypt\n", cmd->origin->canonical);
      *exit_code = NMS_CLI_EXIT_USAGE;
    }
  else
    return TRUE;
  return FALSE;
}

/* An encrypted origin's export stays encrypted (a sealed export) unless
 * the person says --decrypt; either way it takes the key, to check every
 * record and to match names against --prefix. */
int
_nms_cli_export (int argc, char **argv)
{
  g_auto(CopyCommand) cmd = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(NmsProgress) progress = NULL;
  int exit_code;
  gboolean ok;

  if (!copy_command_open (&argc, &argv, "- print every item as one JSON object (sealed, for an encrypted origin, "
                          "unless --decrypt)", TRUE, "Write an encrypted origin's names and values in the clear",
                          1, "export takes --origin ORIGIN [--prefix P] [--decrypt]", &cmd, &exit_code))
    return exit_code;
  if (!unlock_for_person (cmd.store, cmd.origin, cmd.passphrase_fd, &error))
    return _nms_cli_fail_error (error);
  if (!nms_store_encrypted (cmd.store) || cmd.decrypt)
    {
      /* Written as it is read: the export never sits whole in memory. */
      progress = nms_progress_new_stderr ("exporting", "items", cmd.quiet);
      ok = nms_archive_export (cmd.store, cmd.prefix, stdout, nms_progress_step, progress, &error);
      nms_progress_done (progress);
      return ok ? EXIT_SUCCESS : _nms_cli_fail_error (error);
    }
  progress = nms_progress_new_stderr ("exporting", "records", cmd.quiet);
  ok = nms_archive_export_sealed (cmd.store, cmd.origin->canonical, cmd.prefix, stdout, nms_progress_step, progress,
                                  &error);
  nms_progress_done (progress);
  return ok ? EXIT_SUCCESS : _nms_cli_fail_error (error);
}

/* The key-encryption key of a sealed export: --key-file when given, else
 * the export's own key source. A key file not recorded by path is looked
 * for beside the exported origin's store in this data root. */
static NmsCryptoSecret *
sealed_kek (const NmsCryptoEnvelope *envelope, const char *exported_origin, const char *key_file, gint passphrase_fd,
            NmsCryptoSecret **passphrase, GError **error)
{
  g_autoptr(NmsConfig) config = NULL;
  g_autoptr(NmsOrigin) from = NULL;
  g_autofree char *dir = NULL;

  if (key_file != NULL)
    {
      if (envelope->source != NMS_CRYPTO_SOURCE_KEY_FILE)
        {
          g_set_error (error, NMS_ERROR, NMS_ERROR_AUTH, "the export was sealed under a %s, not a key file; "
                       "leave out --key-file", nms_crypto_source_name (envelope->source));
          return NULL;
        }
      return nms_keysource_key_file_load (key_file, error);
    }
  if (envelope->source == NMS_CRYPTO_SOURCE_PASSPHRASE
      && (*passphrase = nms_keysource_read_passphrase (passphrase_fd, "Passphrase of the export: ", error)) == NULL)
    return NULL;
  /* Only for the data root: the request that follows sets up logging. */
  if ((config = nms_config_load (NULL, error)) == NULL)
    return NULL;
  from = nms_origin_parse (exported_origin, NULL);
  dir = from != NULL ? nms_config_store_dir (config, from) : g_strdup ("(the export names no origin)");
  return nms_keysource_load_kek (envelope, *passphrase, dir, error);
}

/* Whether origin's store is encrypted, looked at before the command sets
 * up logging (which a process does once, in the request that follows). */
static gboolean
origin_encrypted (const char *origin_text)
{
  g_autoptr(NmsOrigin) origin = nms_origin_parse (origin_text, NULL);
  g_autoptr(NmsConfig) config = origin ? nms_config_load (NULL, NULL) : NULL;
  g_autoptr(NmsStore) store = config ? nms_store_open_origin (config, origin, NULL) : NULL;

  return store != NULL && nms_store_encrypted (store);
}

/* A plain export in a file: streamed into the store in one transaction
 * (archive-import.c). */
static int
import_plain_file (const char *origin_text, const char *path, gboolean have_key_file, gint passphrase_fd,
                   gboolean quiet)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NmsOrigin) origin = NULL;
  g_autoptr(NmsStore) store = NULL;
  g_autoptr(NmsProgress) progress = NULL;
  guint64 n = 0;
  gboolean ok;

  if (have_key_file)
    {
      g_printerr ("nmstore: --key-file belongs to a sealed export; %s is a plain one\n", path);
      return NMS_CLI_EXIT_USAGE;
    }
  if ((store = open_store (origin_text, &origin, &error)) == NULL
      || !unlock_for_person (store, origin, passphrase_fd, &error))
    return _nms_cli_fail_error (error);
  progress = nms_progress_new_stderr ("importing", "MB", quiet);
  ok = nms_archive_import_file (store, path, &n, nms_progress_step, progress, &error);
  nms_progress_done (progress);
  if (!ok)
    {
      g_printerr ("nmstore: %s: %s; nothing was imported\n", path, error->message);
      return EXIT_FAILURE;
    }
  g_print ("imported %" G_GUINT64_FORMAT " item(s)\n", n);
  return EXIT_SUCCESS;
}

/* A sealed export in a file: its MAC checked over every record, then
 * streamed into the store in one transaction (archive-sealed-in.c). */
static int
import_sealed_file (const char *origin_text, const char *path, const char *key_file, gint passphrase_fd,
                    gboolean quiet)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NmsArchiveSealedFile) sealed = nms_archive_sealed_file_open (path, &error);
  g_autoptr(NmsCryptoSecret) passphrase = NULL;
  g_autoptr(NmsCryptoSecret) kek = NULL;
  g_autoptr(NmsOrigin) origin = NULL;
  g_autoptr(NmsStore) store = NULL;
  g_autoptr(NmsProgress) progress = NULL;
  NmsCliUnlock unlock;
  guint64 n = 0;

  if (sealed == NULL
      || (kek = sealed_kek (nms_archive_sealed_file_envelope (sealed), nms_archive_sealed_file_origin (sealed),
                            key_file, passphrase_fd, &passphrase, &error)) == NULL)
    {
      g_printerr ("nmstore: %s: %s\n", path, error->message);
      return EXIT_FAILURE;
    }
  if ((store = open_store (origin_text, &origin, &error)) == NULL)
    return _nms_cli_fail_error (error);
  /* An export back into the origin it came from needs its passphrase
   * once. */
  unlock = (NmsCliUnlock) { passphrase_fd, passphrase, NULL };
  if (!_nms_cli_unlock_for_person (store, origin, &unlock, &error))
    return _nms_cli_fail_error (error);
  progress = nms_progress_new_stderr ("importing", "records", quiet);
  if (!nms_archive_sealed_file_import (sealed, kek, store, &n, nms_progress_step, progress, &error))
    {
      nms_progress_done (progress);
      g_printerr ("nmstore: %s: %s\n", path, error->message);
      return EXIT_FAILURE;
    }
  nms_progress_done (progress);
  g_print ("imported %" G_GUINT64_FORMAT " item(s)\n", n);
  /* Items that were sealed and now sit in a plaintext origin are worth a
   * word to the person who moved them. */
  if (!nms_store_encrypted (store))
    g_printerr ("nmstore: note: %s is not encrypted, so the imported items are stored in the clear; "
                "'nmstore encrypt --origin %s' protects them\n", origin_text, origin_text);
  return EXIT_SUCCESS;
}

/* A file is read without holding it: checked once (UTF-8, one object,
 * and which kind of export), before a store, or logging, is opened. */
static int
import_file (const char *origin_text, const char *path, const char *key_file, gint passphrase_fd, gboolean quiet)
{
  g_autoptr(GError) error = NULL;
  gboolean is_sealed = FALSE;

  if (!nms_archive_file_is_sealed (path, &is_sealed, &error))
    {
      g_printerr ("nmstore: %s: %s\n", path, error->message);
      return EXIT_FAILURE;
    }
  if (is_sealed)
    return import_sealed_file (origin_text, path, key_file, passphrase_fd, quiet);
  return import_plain_file (origin_text, path, key_file != NULL, passphrase_fd, quiet);
}

int
_nms_cli_import (int argc, char **argv)
{
  g_autofree char *origin = NULL, *key_file = NULL;
  gint passphrase_fd;
  g_autoptr(GOptionContext) context = _nms_cli_store_context ("FILE - merge an export in, atomically "
                                                             "(FILE - reads stdin)", &origin, NULL, &passphrase_fd);
  GOptionEntry sealed_entries[] = {
    { "key-file", 0, 0, G_OPTION_ARG_FILENAME, &key_file,
      "A sealed export's key file, when it is not where the exported origin kept it", "PATH" },
    { NULL }
  };
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  g_autoptr(GString) request = g_string_new (NULL);
  g_autoptr(cJSON) reply = NULL;
  g_autoptr(NmsArchiveSealed) sealed = NULL;
  g_autoptr(NmsCryptoSecret) passphrase = NULL;
  NmsCliUnlock unlock;
  guint n_items = 0;
  gboolean ok, target_encrypted, quiet = FALSE;
  gsize len;
  GOptionEntry quiet_entries[] = {
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "Print no progress on standard error", NULL },
    { NULL }
  };

  g_option_context_add_main_entries (context, sealed_entries, NULL);
  g_option_context_add_main_entries (context, quiet_entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    return _nms_cli_fail_usage (context, error->message);
  if (origin == NULL || argc != 2)
    return _nms_cli_fail_usage (context, "import takes --origin ORIGIN FILE");
  if (!g_str_equal (argv[1], "-"))
    return import_file (origin, argv[1], key_file, passphrase_fd, quiet);
  /* Standard input cannot be mapped; it is read whole and imported as one
   * request (spooling it to a file would put a --decrypt export's
   * plaintext on disk). */
  {
    g_autoptr(GIOChannel) in = g_io_channel_unix_new (0);
    if (g_io_channel_read_to_end (in, &text, &len, &error) != G_IO_STATUS_NORMAL)
      return _nms_cli_fail_error (error);
  }

  ok = nms_archive_sealed_parse (text, len, &sealed, &error);
  if (ok && sealed == NULL && key_file != NULL)
    {
      sodium_memzero (text, len);
      return _nms_cli_fail_usage (context, "--key-file belongs to a sealed export; this file is a plain one");
    }
  if (ok && sealed != NULL)
    {
      g_autoptr(NmsCryptoSecret) kek = sealed_kek (nms_archive_sealed_envelope (sealed),
                                                   nms_archive_sealed_origin (sealed), key_file, passphrase_fd,
                                                   &passphrase, &error);

      ok = kek != NULL && nms_archive_sealed_import_request (sealed, kek, request, &n_items, &error);
    }
  else if (ok)
    ok = nms_archive_import_request (text, len, request, &n_items, &error);
  /* A --decrypt export's text is the origin's items in the clear. */
  sodium_memzero (text, len);
  if (!ok)
    {
      sodium_memzero (request->str, request->len);
      g_printerr ("nmstore: %s: %s\n", argv[1], error->message);
      return EXIT_FAILURE;
    }
  target_encrypted = sealed != NULL && origin_encrypted (origin);
  /* An export back into the origin it came from needs its passphrase
   * once. */
  unlock = (NmsCliUnlock) { passphrase_fd, passphrase };
  reply = _nms_cli_run_request_text (origin, &unlock, request->str, request->len, &error);
  sodium_memzero (request->str, request->len);
  if (reply == NULL)
    return _nms_cli_fail_error (error);
  g_print ("imported %u item(s)\n", n_items);
  /* Items that were sealed and now sit in a plaintext origin are worth a
   * word to the person who moved them. */
  if (sealed != NULL && !target_encrypted)
    g_printerr ("nmstore: note: %s is not encrypted, so the imported items are stored in the clear; "
                "'nmstore encrypt --origin %s' protects them\n", origin, origin);
  return EXIT_SUCCESS;
}

/* A backup of an encrypted origin stays encrypted (it is the store file
 * itself) unless the person says --decrypt, which takes the key. */
int
_nms_cli_backup (int argc, char **argv)
{
  g_auto(CopyCommand) cmd = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(NmsProgress) progress = NULL;
  int exit_code;
  gboolean ok;

  if (!copy_command_open (&argc, &argv, "FILE - write a consistent copy of the store while hosts keep running",
                          FALSE, "Write an encrypted origin's backup in the clear",
                          2, "backup takes --origin ORIGIN [--decrypt] FILE", &cmd, &exit_code))
    return exit_code;
  if (cmd.decrypt)
    ok = unlock_for_person (cmd.store, cmd.origin, cmd.passphrase_fd, &error)
         && nms_archive_backup_decrypted (cmd.store, cmd.origin->canonical, argv[1], &error);
  else
    {
      progress = nms_progress_new_stderr ("backing up", "MB", cmd.quiet);
      nms_store_set_progress (cmd.store, nms_progress_step, progress);
      ok = nms_archive_backup (cmd.store, argv[1], &error);
      nms_progress_done (progress);
    }
  if (!ok)
    return _nms_cli_fail_error (error);
  g_print (cmd.decrypt ? "backed up to %s, in the clear\n" : "backed up to %s\n", argv[1]);
  return EXIT_SUCCESS;
}

int
_nms_cli_restore (int argc, char **argv)
{
  g_autofree char *origin_text = NULL;
  g_autoptr(GOptionContext) context = _nms_cli_store_context ("FILE - replace every item with those of a backup",
                                                             &origin_text, NULL, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(NmsStore) store = NULL;
  g_autoptr(NmsOrigin) origin = NULL;
  g_autoptr(NmsProgress) progress = NULL;
  guint64 n = 0;
  gboolean quiet = FALSE, ok;
  GOptionEntry quiet_entries[] = {
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "Print no progress on standard error", NULL },
    { NULL }
  };

  g_option_context_add_main_entries (context, quiet_entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    return _nms_cli_fail_usage (context, error->message);
  if (origin_text == NULL || argc != 2)
    return _nms_cli_fail_usage (context, "restore takes --origin ORIGIN FILE");
  if ((store = open_store (origin_text, &origin, &error)) == NULL)
    return _nms_cli_fail_error (error);
  progress = nms_progress_new_stderr ("restoring", "items", quiet);
  nms_store_set_progress (store, nms_progress_step, progress);
  ok = nms_archive_restore (store, argv[1], origin->canonical, &n, &error);
  nms_progress_done (progress);
  if (!ok)
    return _nms_cli_fail_error (error);
  g_print ("restored %" G_GUINT64_FORMAT " item(s) from %s\n", n, argv[1]);
  return EXIT_SUCCESS;
}
