/* SPDX-License-Identifier: MIT */
/* cli-session.c: the commands for a person's torrent session: session
 * ls|check|migrate, protocol requests like the core commands. Moving data
 * (export, import, backup, restore) is in cli-archive.c. */
#include "cli-common.h"
#include "cli-private.h"
#include "session/session.h"

#include <stdio.h>

#define NAME_WIDTH 40
#define BAR_WIDTH  20

static cJSON *
session_request (const char *origin, gint passphrase_fd, const char *op, const char *prefix, gboolean repair,
                 NmsProgress *progress, GError **error)
{
  NmsCliUnlock unlock = { passphrase_fd, NULL, progress };
  g_autoptr(cJSON) request = cJSON_CreateObject ();

  cJSON_AddStringToObject (request, "op", op);
  if (prefix != NULL)
    cJSON_AddStringToObject (request, "prefix", prefix);
  if (repair)
    cJSON_AddBoolToObject (request, "repair", TRUE);
  return _nms_cli_run_request (origin, &unlock, request, error);
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
_nms_cli_session (int argc, char **argv)
{
  g_autofree char *origin = NULL, *prefix = NULL;
  gboolean json = FALSE, repair = FALSE, quiet = FALSE;
  GOptionEntry extra[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON instead of text", NULL },
    { "repair", 0, 0, G_OPTION_ARG_NONE, &repair, "check: fix what it finds", NULL },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "Print no progress on standard error", NULL },
    { NULL }
  };
  g_autoptr(NmsProgress) progress = NULL;
  gint passphrase_fd;
  g_autoptr(GOptionContext) context = _nms_cli_store_context ("ls|check|migrate - the torrent session "
                                                             "(--prefix: the session's prefix, default session:)",
                                                             &origin, &prefix, &passphrase_fd);
  g_autoptr(GError) error = NULL;
  g_autoptr(cJSON) reply = NULL;
  const char *verb;

  g_option_context_add_main_entries (context, extra, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    return _nms_cli_fail_usage (context, error->message);
  if (origin == NULL || argc != 2)
    return _nms_cli_fail_usage (context, "session takes ls, check or migrate, and --origin ORIGIN");
  verb = argv[1];
  if (repair && !g_str_equal (verb, "check"))
    return _nms_cli_fail_usage (context, "--repair belongs to session check");

  /* Reading every torrent's files is what can take long. */
  if (g_str_equal (verb, "ls"))
    reply = session_request (origin, passphrase_fd, "sessionSummary", prefix, FALSE, NULL, &error);
  else if (g_str_equal (verb, "check"))
    {
      progress = nms_progress_new_stderr ("checking", "torrents", quiet);
      reply = session_request (origin, passphrase_fd, "sessionCheck", prefix, repair, progress, &error);
      nms_progress_done (progress);
    }
  else if (g_str_equal (verb, "migrate"))
    reply = session_request (origin, passphrase_fd, "sessionMigrate", prefix, FALSE, NULL, &error);
  else
    return _nms_cli_fail_usage (context, "session takes ls, check or migrate");
  if (reply == NULL)
    return _nms_cli_fail_error (error);

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
