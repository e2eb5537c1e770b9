/* SPDX-License-Identifier: MIT */
/* cli-session.c: the commands for a person's torrent session and for
 * moving data: session ls|check|migrate, export, import, backup, restore.
 * The session commands and import are protocol requests, like the core
 * commands; export, backup and restore work on the store file itself. */
#include "cli-private.h"
#include "nmstore/archive.h"
#include "nmstore/error.h"
#include "nmstore/keysource.h"
#include "nmstore/origin.h"
#include "nmstore/progress.h"
#include "nmstore/session.h"
#include "nmstore/store.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define NAME_WIDTH 40
#define BAR_WIDTH  20

static NmsStore *
open_store (const char *origin_text, NmsOrigin **origin_out, GError **error)
{
  g_autoptr(NmsOrigin) origin = nms_origin_parse (origin_text, error);
  g_autoptr(NmsConfig) config = NULL;
  g_autofree char *dir = NULL;
  NmsStoreOptions options = { 0 };
  NmsStore *store;

  if (origin == NULL || (config = nms_cli_load_config (error)) == NULL)
    return NULL;
  dir = nms_config_store_dir (config, origin);
  options.durability = config->durability;
  options.quota_bytes = config->quota_bytes;
  store = nms_store_open (dir, origin->canonical, &options, error);
  if (store != NULL && origin_out != NULL)
    *origin_out = g_steal_pointer (&origin);
  return store;
}

static cJSON *
session_request (const char *origin, gint passphrase_fd, const char *op, const char *prefix, gboolean repair,
                 GError **error)
{
  NmsCliUnlock unlock = { passphrase_fd, NULL };
  g_autoptr(cJSON) request = cJSON_CreateObject ();

  cJSON_AddStringToObject (request, "op", op);
  if (prefix != NULL)
    cJSON_AddStringToObject (request, "prefix", prefix);
  if (repair)
    cJSON_AddBoolToObject (request, "repair", TRUE);
  return nms_cli_run_request (origin, &unlock, request, error);
}

static void
print_json (const cJSON *value)
{
  char *text = cJSON_Print (value);

  g_print ("%s\n", text);
  cJSON_free (text);
}

/* GLib's sizes use a no-break space, which a C-locale terminal shows as
 * '?'; a table wants a plain one. */
static char *
human_size (const cJSON *bytes)
{
  g_autofree char *glib = NULL;
  GString *text;

  if (!cJSON_IsNumber (bytes))
    return g_strdup ("?");
  glib = g_format_size_full ((guint64) bytes->valuedouble, G_FORMAT_SIZE_IEC_UNITS);
  text = g_string_new (glib);
  g_string_replace (text, "\u00a0", " ", 0);
  return g_string_free (text, FALSE);
}

static char *
progress_bar (const cJSON *progress)
{
  GString *bar = g_string_new ("[");
  double p = cJSON_IsNumber (progress) ? CLAMP (progress->valuedouble, 0.0, 1.0) : 0.0;
  int filled = (int) (p * BAR_WIDTH + 0.5), i;

  for (i = 0; i < BAR_WIDTH; i++)
    g_string_append_c (bar, i < filled ? '#' : '.');
  if (cJSON_IsNumber (progress))
    g_string_append_printf (bar, "] %5.1f%%", p * 100.0);
  else
    g_string_append (bar, "]     ?");
  return g_string_free (bar, FALSE);
}

static char *
ratio_of (const cJSON *up, const cJSON *down)
{
  if (!cJSON_IsNumber (up) || !cJSON_IsNumber (down) || down->valuedouble <= 0)
    return g_strdup ("-");
  return g_strdup_printf ("%.2f", up->valuedouble / down->valuedouble);
}

static char *
added_date (const cJSON *added)
{
  g_autoptr(GDateTime) when = NULL;

  if (!cJSON_IsNumber (added) || added->valuedouble <= 0)
    return g_strdup ("-");
  when = g_date_time_new_from_unix_utc ((gint64) (added->valuedouble / 1000));
  return when ? g_date_time_format (when, "%Y-%m-%d") : g_strdup ("-");
}

/* Pads by characters, not bytes, so names in any script line up. */
static char *
fit (const char *text, int width)
{
  glong len = g_utf8_strlen (text, -1);
  GString *out;

  if (len > width)
    {
      g_autofree char *cut = g_utf8_substring (text, 0, width - 1);
      return g_strconcat (cut, "~", NULL);
    }
  out = g_string_new (text);
  for (; len < width; len++)
    g_string_append_c (out, ' ');
  return g_string_free (out, FALSE);
}

static void
print_table (const cJSON *summary)
{
  const cJSON *t, *problems = cJSON_GetObjectItemCaseSensitive (summary, "problems");
  g_autofree char *header = fit ("NAME", NAME_WIDTH);

  g_print ("%s %10s  %-29s %-8s %6s  %s\n", header, "SIZE", "PROGRESS", "STATE", "RATIO", "ADDED");
  cJSON_ArrayForEach (t, cJSON_GetObjectItemCaseSensitive (summary, "torrents"))
    {
      const cJSON *name = cJSON_GetObjectItemCaseSensitive (t, "name");
      const cJSON *hash = cJSON_GetObjectItemCaseSensitive (t, "infoHash");
      const cJSON *state = cJSON_GetObjectItemCaseSensitive (t, "userState");
      g_autofree char *shown = fit (cJSON_IsString (name) ? name->valuestring : hash->valuestring, NAME_WIDTH);
      g_autofree char *size = human_size (cJSON_GetObjectItemCaseSensitive (t, "totalSize"));
      g_autofree char *bar = progress_bar (cJSON_GetObjectItemCaseSensitive (t, "progress"));
      g_autofree char *ratio = ratio_of (cJSON_GetObjectItemCaseSensitive (t, "uploaded"),
                                         cJSON_GetObjectItemCaseSensitive (t, "downloaded"));
      g_autofree char *added = added_date (cJSON_GetObjectItemCaseSensitive (t, "addedAt"));

      g_print ("%s %10s  %-29s %-8s %6s  %s\n", shown, size, bar,
               cJSON_IsString (state) ? state->valuestring : "-", ratio, added);
    }
  if (cJSON_GetArraySize (problems) > 0)
    g_print ("\n%d problem(s) found; run 'nmstore session check' for details\n", cJSON_GetArraySize (problems));
}

/* Findings of severity "info" (a magnet still waiting for its metadata)
 * are shown but are not problems: check still exits 0 for them. */
static int
print_findings (const cJSON *report, gboolean repair)
{
  const cJSON *f, *findings = cJSON_GetObjectItemCaseSensitive (report, "findings");
  int n = 0, info = 0;

  cJSON_ArrayForEach (f, findings)
    {
      const cJSON *severity = cJSON_GetObjectItemCaseSensitive (f, "severity");
      gboolean is_info = cJSON_IsString (severity) && g_str_equal (severity->valuestring, "info");

      if (is_info)
        info++;
      else
        n++;
      g_print ("%-16s %s\n  %s %s\n", cJSON_GetObjectItemCaseSensitive (f, "code")->valuestring,
               cJSON_GetObjectItemCaseSensitive (f, "reason")->valuestring,
               is_info ? "info, needs" : repair ? "repaired:" : "--repair would",
               cJSON_GetObjectItemCaseSensitive (f, "repair")->valuestring);
    }
  if (n == 0)
    g_print ("no problems in %d torrent(s)", cJSON_GetObjectItemCaseSensitive (report, "torrents")->valueint);
  if (n == 0 && info > 0)
    g_print ("; %d note(s) above are for information\n", info);
  else if (n == 0)
    g_print ("\n");
  else if (!repair)
    g_print ("%d problem(s); nothing was changed\n", n);
  return n == 0 || repair ? EXIT_SUCCESS : EXIT_FAILURE;
}

int
nms_cli_session (int argc, char **argv)
{
  g_autofree char *origin = NULL, *prefix = NULL;
  gboolean json = FALSE, repair = FALSE;
  GOptionEntry extra[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON instead of text", NULL },
    { "repair", 0, 0, G_OPTION_ARG_NONE, &repair, "check: fix what it finds", NULL },
    { NULL }
  };
  gint passphrase_fd;
  g_autoptr(GOptionContext) context = nms_cli_store_context ("ls|check|migrate - the torrent session "
                                                             "(--prefix: the session's prefix, default session:)",
                                                             &origin, &prefix, &passphrase_fd);
  g_autoptr(GError) error = NULL;
  g_autoptr(cJSON) reply = NULL;
  const char *verb;

  g_option_context_add_main_entries (context, extra, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    return nms_cli_fail_usage (context, error->message);
  if (origin == NULL || argc != 2)
    return nms_cli_fail_usage (context, "session takes ls, check or migrate, and --origin ORIGIN");
  verb = argv[1];
  if (repair && !g_str_equal (verb, "check"))
    return nms_cli_fail_usage (context, "--repair belongs to session check");

  if (g_str_equal (verb, "ls"))
    reply = session_request (origin, passphrase_fd, "sessionSummary", prefix, FALSE, &error);
  else if (g_str_equal (verb, "check"))
    reply = session_request (origin, passphrase_fd, "sessionCheck", prefix, repair, &error);
  else if (g_str_equal (verb, "migrate"))
    reply = session_request (origin, passphrase_fd, "sessionMigrate", prefix, FALSE, &error);
  else
    return nms_cli_fail_usage (context, "session takes ls, check or migrate");
  if (reply == NULL)
    return nms_cli_fail_error (error);

  cJSON_DeleteItemFromObjectCaseSensitive (reply, "id");
  cJSON_DeleteItemFromObjectCaseSensitive (reply, "ok");
  if (json)
    {
      print_json (reply);
      return EXIT_SUCCESS;
    }
  if (g_str_equal (verb, "ls"))
    print_table (reply);
  else if (g_str_equal (verb, "check"))
    return print_findings (reply, repair);
  else if (cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (reply, "alreadyV2")))
    g_print ("the session is already schema v2; nothing to do\n");
  else
    g_print ("migrated %d torrent(s) to schema v2; the v1 keys are kept under %s until you remove them\n",
             cJSON_GetObjectItemCaseSensitive (reply, "migrated")->valueint,
             cJSON_GetObjectItemCaseSensitive (reply, "backupPrefix")->valuestring);
  return EXIT_SUCCESS;
}

/* Opens a store the command itself opened, when it is locked behind a
 * passphrase: read from passphrase_fd, or asked for on the terminal. */
static gboolean
unlock_for_person (NmsStore *store, const NmsOrigin *origin, gint passphrase_fd, GError **error)
{
  g_autoptr(NmsCryptoSecret) passphrase = NULL;
  g_autofree char *prompt = NULL;

  if (!nms_store_locked (store) || nms_store_key_source (store) != NMS_CRYPTO_SOURCE_PASSPHRASE)
    return TRUE;
  prompt = g_strdup_printf ("Passphrase of %s: ", origin->canonical);
  return (passphrase = nms_keysource_read_passphrase (passphrase_fd, prompt, error)) != NULL
         && nms_store_unlock (store, passphrase, error);
}

/* An encrypted origin's export stays encrypted (a sealed export) unless
 * the person says --decrypt; either way it takes the key, to check every
 * record and to match names against --prefix. */
int
nms_cli_export (int argc, char **argv)
{
  g_autofree char *origin_text = NULL, *prefix = NULL;
  gint passphrase_fd;
  g_autoptr(GOptionContext) context = nms_cli_store_context ("- print every item as one JSON object (sealed, for "
                                                             "an encrypted origin, unless --decrypt)",
                                                             &origin_text, &prefix, &passphrase_fd);
  g_autoptr(GError) error = NULL;
  g_autoptr(NmsStore) store = NULL;
  g_autoptr(NmsOrigin) origin = NULL;
  g_autoptr(NmsProgress) progress = NULL;
  gboolean decrypt = FALSE, quiet = FALSE, ok;
  GOptionEntry crypt_entries[] = {
    { "decrypt", 0, 0, G_OPTION_ARG_NONE, &decrypt, "Write an encrypted origin's names and values in the clear", NULL },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "Print no progress on standard error", NULL },
    { NULL }
  };

  g_option_context_add_main_entries (context, crypt_entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    return nms_cli_fail_usage (context, error->message);
  if (origin_text == NULL || argc != 1)
    return nms_cli_fail_usage (context, "export takes --origin ORIGIN [--prefix P] [--decrypt]");
  if ((store = open_store (origin_text, &origin, &error)) == NULL)
    return nms_cli_fail_error (error);
  if (decrypt && !nms_store_encrypted (store))
    {
      g_printerr ("nmstore: %s is not encrypted; leave out --decrypt\n", origin->canonical);
      return NMS_CLI_EXIT_USAGE;
    }
  if (!unlock_for_person (store, origin, passphrase_fd, &error))
    return nms_cli_fail_error (error);
  if (!nms_store_encrypted (store) || decrypt)
    {
      /* Written as it is read: the export never sits whole in memory. */
      progress = nms_progress_new_stderr ("exporting", "items", quiet);
      ok = nms_archive_export (store, prefix, stdout, nms_progress_step, progress, &error);
      nms_progress_done (progress);
      return ok ? EXIT_SUCCESS : nms_cli_fail_error (error);
    }
  progress = nms_progress_new_stderr ("exporting", "records", quiet);
  ok = nms_archive_export_sealed (store, origin->canonical, prefix, stdout, nms_progress_step, progress, &error);
  nms_progress_done (progress);
  return ok ? EXIT_SUCCESS : nms_cli_fail_error (error);
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
  g_autofree char *beside = NULL;

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
  if (from != NULL)
    {
      dir = nms_config_store_dir (config, from);
      beside = g_build_filename (dir, NMS_KEYSOURCE_KEY_FILE_NAME, NULL);
    }
  else
    beside = g_strdup ("(the export names no origin)");
  return nms_keysource_load_kek (envelope, *passphrase, beside, error);
}

/* Whether origin's store is encrypted, looked at before the command sets
 * up logging (which a process does once, in the request that follows). */
static gboolean
origin_encrypted (const char *origin_text)
{
  g_autoptr(NmsOrigin) origin = nms_origin_parse (origin_text, NULL);
  g_autoptr(NmsConfig) config = origin ? nms_config_load (NULL, NULL) : NULL;
  g_autofree char *dir = config ? nms_config_store_dir (config, origin) : NULL;
  NmsStoreOptions options = { 0 };
  g_autoptr(NmsStore) store = dir ? nms_store_open (dir, origin->canonical, &options, NULL) : NULL;

  return store != NULL && nms_store_encrypted (store);
}

/* A plain export in a file: streamed into the store in one transaction
 * (archive-import.c). *is_sealed: the file is a sealed export, which the
 * caller imports instead; nothing was written. */
static int
import_plain_file (const char *origin_text, const char *path, gboolean have_key_file, gint passphrase_fd,
                   gboolean quiet, gboolean *is_sealed)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NmsOrigin) origin = NULL;
  g_autoptr(NmsStore) store = NULL;
  g_autoptr(NmsProgress) progress = NULL;
  guint64 n = 0;
  gboolean ok;

  /* Before the store (and logging) is opened: a sealed export goes the
   * other way, through a request. */
  if (!nms_archive_file_is_sealed (path, is_sealed, &error))
    {
      g_printerr ("nmstore: %s: %s\n", path, error->message);
      return EXIT_FAILURE;
    }
  if (*is_sealed)
    return EXIT_SUCCESS;
  if (have_key_file)
    {
      g_printerr ("nmstore: --key-file belongs to a sealed export; %s is a plain one\n", path);
      return NMS_CLI_EXIT_USAGE;
    }
  if ((store = open_store (origin_text, &origin, &error)) == NULL
      || !unlock_for_person (store, origin, passphrase_fd, &error))
    return nms_cli_fail_error (error);
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
  guint64 n = 0;

  if (sealed == NULL
      || (kek = sealed_kek (nms_archive_sealed_file_envelope (sealed), nms_archive_sealed_file_origin (sealed),
                            key_file, passphrase_fd, &passphrase, &error)) == NULL)
    {
      g_printerr ("nmstore: %s: %s\n", path, error->message);
      return EXIT_FAILURE;
    }
  if ((store = open_store (origin_text, &origin, &error)) == NULL)
    return nms_cli_fail_error (error);
  /* An export back into the origin it came from needs its passphrase
   * once. */
  if (passphrase != NULL && nms_store_locked (store))
    nms_store_unlock (store, passphrase, NULL);
  if (!unlock_for_person (store, origin, passphrase_fd, &error))
    return nms_cli_fail_error (error);
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

int
nms_cli_import (int argc, char **argv)
{
  g_autofree char *origin = NULL, *key_file = NULL;
  gint passphrase_fd;
  g_autoptr(GOptionContext) context = nms_cli_store_context ("FILE - merge an export in, atomically "
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
  int code;
  gboolean ok, target_encrypted, quiet = FALSE;
  gsize len;
  GOptionEntry quiet_entries[] = {
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "Print no progress on standard error", NULL },
    { NULL }
  };

  g_option_context_add_main_entries (context, sealed_entries, NULL);
  g_option_context_add_main_entries (context, quiet_entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    return nms_cli_fail_usage (context, error->message);
  if (origin == NULL || argc != 2)
    return nms_cli_fail_usage (context, "import takes --origin ORIGIN FILE");
  if (!g_str_equal (argv[1], "-"))
    {
      gboolean is_sealed = FALSE;

      code = import_plain_file (origin, argv[1], key_file != NULL, passphrase_fd, quiet, &is_sealed);
      if (!is_sealed)
        return code;
      return import_sealed_file (origin, argv[1], key_file, passphrase_fd, quiet);
    }
  if (g_str_equal (argv[1], "-"))
    {
      g_autoptr(GIOChannel) in = g_io_channel_unix_new (0);
      if (g_io_channel_read_to_end (in, &text, &len, &error) != G_IO_STATUS_NORMAL)
        return nms_cli_fail_error (error);
    }
  else if (!g_file_get_contents (argv[1], &text, &len, &error))
    return nms_cli_fail_error (error);

  ok = nms_archive_sealed_parse (text, len, &sealed, &error);
  if (ok && sealed == NULL && key_file != NULL)
    {
      sodium_memzero (text, len);
      return nms_cli_fail_usage (context, "--key-file belongs to a sealed export; this file is a plain one");
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
  reply = nms_cli_run_request_text (origin, &unlock, request->str, request->len, &error);
  sodium_memzero (request->str, request->len);
  if (reply == NULL)
    return nms_cli_fail_error (error);
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
nms_cli_backup (int argc, char **argv)
{
  g_autofree char *origin_text = NULL;
  gint passphrase_fd;
  g_autoptr(GOptionContext) context = nms_cli_store_context ("FILE - write a consistent copy of the store "
                                                             "while hosts keep running", &origin_text, NULL,
                                                             &passphrase_fd);
  g_autoptr(GError) error = NULL;
  g_autoptr(NmsStore) store = NULL;
  g_autoptr(NmsOrigin) origin = NULL;
  g_autoptr(NmsProgress) progress = NULL;
  gboolean decrypt = FALSE, quiet = FALSE, ok;
  GOptionEntry crypt_entries[] = {
    { "decrypt", 0, 0, G_OPTION_ARG_NONE, &decrypt, "Write an encrypted origin's backup in the clear", NULL },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "Print no progress on standard error", NULL },
    { NULL }
  };

  g_option_context_add_main_entries (context, crypt_entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    return nms_cli_fail_usage (context, error->message);
  if (origin_text == NULL || argc != 2)
    return nms_cli_fail_usage (context, "backup takes --origin ORIGIN [--decrypt] FILE");
  if ((store = open_store (origin_text, &origin, &error)) == NULL)
    return nms_cli_fail_error (error);
  if (decrypt && !nms_store_encrypted (store))
    {
      g_printerr ("nmstore: %s is not encrypted; leave out --decrypt\n", origin->canonical);
      return NMS_CLI_EXIT_USAGE;
    }
  if (decrypt)
    ok = unlock_for_person (store, origin, passphrase_fd, &error)
         && nms_archive_backup_decrypted (store, origin->canonical, argv[1], &error);
  else
    {
      progress = nms_progress_new_stderr ("backing up", "MB", quiet);
      nms_store_set_progress (store, nms_progress_step, progress);
      ok = nms_archive_backup (store, argv[1], &error);
      nms_progress_done (progress);
    }
  if (!ok)
    return nms_cli_fail_error (error);
  g_print (decrypt ? "backed up to %s, in the clear\n" : "backed up to %s\n", argv[1]);
  return EXIT_SUCCESS;
}

int
nms_cli_restore (int argc, char **argv)
{
  g_autofree char *origin_text = NULL;
  g_autoptr(GOptionContext) context = nms_cli_store_context ("FILE - replace every item with those of a backup",
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
    return nms_cli_fail_usage (context, error->message);
  if (origin_text == NULL || argc != 2)
    return nms_cli_fail_usage (context, "restore takes --origin ORIGIN FILE");
  if ((store = open_store (origin_text, &origin, &error)) == NULL)
    return nms_cli_fail_error (error);
  progress = nms_progress_new_stderr ("restoring", "items", quiet);
  nms_store_set_progress (store, nms_progress_step, progress);
  ok = nms_archive_restore (store, argv[1], origin->canonical, &n, &error);
  nms_progress_done (progress);
  if (!ok)
    return nms_cli_fail_error (error);
  g_print ("restored %" G_GUINT64_FORMAT " item(s) from %s\n", n, argv[1]);
  return EXIT_SUCCESS;
}
