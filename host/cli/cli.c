/* SPDX-License-Identifier: MIT */
/* cli.c: the command-line front. Every storage command is a protocol
 * request run through the same code the browser reaches, so the command
 * line and the host cannot disagree about what is stored. */
#include "cli/cli.h"
#include "cli-common.h"
#include "cli-private.h"
#include "config/config.h"
#include "front/host.h"
#include "json/json.h"
#include "config/keysource.h"
#include "base/origin.h"
#include "store/store.h"
#include "nmstore/version.h"

#include <cjson/cJSON.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

typedef struct {
  const char *name;
  const char *args;
  const char *summary;
  int (*run) (int argc, char **argv);
} Command;

typedef struct {
  const char *name;
  const char *value;  /* its text in the result, or NULL */
  gsize       len;
} Member;

static gboolean
find_member (const char *name, gsize name_len, const char *value, gsize value_len, gpointer user_data,
             GError **error)
{
  Member *member = user_data;

  if (name_len == strlen (member->name) && memcmp (name, member->name, name_len) == 0)
    {
      member->value = value;
      member->len = value_len;
    }
  return TRUE;
}

/* Runs request and prints the result's member `name` as the host wrote it:
 * compact, and exact, where a reprint by cJSON would cut strings at
 * U+0000. JSON is UTF-8 whatever the locale, so it goes out through stdio,
 * not g_print, which would turn non-ASCII characters into '?'. */
static int
print_result (const char *origin, gint passphrase_fd, cJSON *request, const char *name)
{
  NmsCliUnlock unlock = { passphrase_fd, NULL, NULL };
  g_autoptr(GError) error = NULL;
  g_autofree char *text = cJSON_PrintUnformatted (request);
  gsize len = 0;
  g_autofree char *result = _nms_cli_run_request_result (origin, &unlock, text, strlen (text), &len, &error);
  Member member = { name, NULL, 0 };

  if (result == NULL)
    return _nms_cli_fail_error (error);
  if (!nms_json_each_member (result, len, find_member, &member, NULL) || member.value == NULL)
    {
      fprintf (stderr, "nmstore: unexpected reply from the store: %s\n", result);
      return EXIT_FAILURE;
    }
  fwrite (member.value, 1, member.len, stdout);
  fputc ('\n', stdout);
  return EXIT_SUCCESS;
}

static int
cmd_host (int argc, char **argv)
{
  g_autofree char *origin_text = NULL;
  GOptionEntry entries[] = {
    { "origin", 'o', 0, G_OPTION_ARG_STRING, &origin_text, "The caller's origin", "ORIGIN" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("- serve the native-messaging protocol on stdin/stdout");
  g_autoptr(GError) error = NULL;
  g_autoptr(NmsOrigin) origin = NULL;
  g_autoptr(NmsConfig) config = NULL;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    return _nms_cli_fail_usage (context, error->message);
  if (origin_text == NULL)
    return _nms_cli_fail_usage (context, "host needs --origin");
  if ((origin = _nms_cli_parse_origin (origin_text, &error)) == NULL
      || (config = _nms_cli_load_config (&error)) == NULL)
    return _nms_cli_fail_error (error);
  return nms_host_run (config, origin);
}

static int
cmd_keys (int argc, char **argv)
{
  g_autofree char *origin = NULL, *prefix = NULL;
  gint passphrase_fd;
  g_autoptr(GOptionContext) context = _nms_cli_store_context ("- list the keys of an origin", &origin, &prefix,
                                                             &passphrase_fd);
  g_autoptr(GError) error = NULL;
  cJSON *request;
  int status;

  if (!g_option_context_parse (context, &argc, &argv, &error))
    return _nms_cli_fail_usage (context, error->message);
  if (origin == NULL || argc != 1)
    return _nms_cli_fail_usage (context, "keys takes --origin ORIGIN [--prefix PREFIX]");
  request = cJSON_CreateObject ();
  cJSON_AddStringToObject (request, "op", "getKeys");
  if (prefix != NULL)
    cJSON_AddStringToObject (request, "prefix", prefix);
  status = print_result (origin, passphrase_fd, request, "keys");
  cJSON_Delete (request);
  return status;
}

static int
cmd_get (int argc, char **argv)
{
  g_autofree char *origin = NULL, *prefix = NULL;
  gint passphrase_fd;
  g_autoptr(GOptionContext) context = _nms_cli_store_context ("[KEY...] - print items as JSON (all of them without KEY)",
                                                             &origin, &prefix, &passphrase_fd);
  g_autoptr(GError) error = NULL;
  cJSON *request;
  int status;
  int i;

  if (!g_option_context_parse (context, &argc, &argv, &error))
    return _nms_cli_fail_usage (context, error->message);
  if (origin == NULL)
    return _nms_cli_fail_usage (context, "get needs --origin");
  if (prefix != NULL && argc > 1)
    return _nms_cli_fail_usage (context, "give KEYs or --prefix, not both");
  request = cJSON_CreateObject ();
  cJSON_AddStringToObject (request, "op", "get");
  if (prefix != NULL)
    cJSON_AddStringToObject (request, "prefix", prefix);
  if (argc > 1)
    {
      cJSON *keys = cJSON_AddArrayToObject (request, "keys");
      for (i = 1; i < argc; i++)
        cJSON_AddItemToArray (keys, cJSON_CreateString (argv[i]));
    }
  status = print_result (origin, passphrase_fd, request, "items");
  cJSON_Delete (request);
  return status;
}

static int
cmd_set (int argc, char **argv)
{
  g_autofree char *origin = NULL;
  gint passphrase_fd;
  g_autoptr(GOptionContext) context = _nms_cli_store_context ("KEY [JSON] - store a JSON value (read from stdin without JSON)",
                                                             &origin, NULL, &passphrase_fd);
  NmsCliUnlock unlock;
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) stdin_text = NULL;
  g_autoptr(GString) request = NULL;
  const char *text;
  cJSON *reply;

  if (!g_option_context_parse (context, &argc, &argv, &error))
    return _nms_cli_fail_usage (context, error->message);
  if (origin == NULL || argc < 2 || argc > 3)
    return _nms_cli_fail_usage (context, "set takes --origin ORIGIN KEY [JSON]");
  if (argc == 3)
    text = argv[2];
  else
    {
      char buf[65536];
      size_t n;

      stdin_text = g_string_new (NULL);
      while ((n = fread (buf, 1, sizeof buf, stdin)) > 0)
        g_string_append_len (stdin_text, buf, (gssize) n);
      if (ferror (stdin))
        {
          fprintf (stderr, "nmstore: cannot read the value from standard input\n");
          return EXIT_FAILURE;
        }
      text = stdin_text->str;
    }
  /* The host's own parser, so that what it accepts (a lone surrogate
   * escape, say) is accepted here too. */
  if (!nms_json_check (text, strlen (text), NULL, &error))
    {
      fprintf (stderr, "nmstore: the value is not JSON (%s); to store a string, quote it, as in '\"text\"'\n",
               error->message);
      return EXIT_FAILURE;
    }

  /* The value's own text goes into the request, not cJSON's reprint of
   * it: cJSON cuts strings at U+0000, and the protocol layer knows how to
   * keep them whole. */
  request = g_string_new ("{\"op\":\"set\",\"items\":{");
  nms_json_append_cstring (request, argv[1]);
  g_string_append_c (request, ':');
  g_string_append (request, text);
  g_string_append (request, "}}");
  unlock = (NmsCliUnlock) { passphrase_fd, NULL };
  reply = _nms_cli_run_request_text (origin, &unlock, request->str, request->len, &error);
  cJSON_Delete (reply);
  return reply ? EXIT_SUCCESS : _nms_cli_fail_error (error);
}

static int
cmd_rm (int argc, char **argv)
{
  g_autofree char *origin = NULL;
  gint passphrase_fd;
  g_autoptr(GOptionContext) context = _nms_cli_store_context ("KEY... - remove items", &origin, NULL, &passphrase_fd);
  NmsCliUnlock unlock;
  g_autoptr(GError) error = NULL;
  cJSON *request, *keys, *reply;
  int i;

  if (!g_option_context_parse (context, &argc, &argv, &error))
    return _nms_cli_fail_usage (context, error->message);
  if (origin == NULL || argc < 2)
    return _nms_cli_fail_usage (context, "rm takes --origin ORIGIN KEY...");
  request = cJSON_CreateObject ();
  cJSON_AddStringToObject (request, "op", "remove");
  keys = cJSON_AddArrayToObject (request, "keys");
  for (i = 1; i < argc; i++)
    cJSON_AddItemToArray (keys, cJSON_CreateString (argv[i]));
  unlock = (NmsCliUnlock) { passphrase_fd, NULL };
  reply = _nms_cli_run_request (origin, &unlock, request, &error);
  cJSON_Delete (request);
  cJSON_Delete (reply);
  return reply ? EXIT_SUCCESS : _nms_cli_fail_error (error);
}

static const Command commands[] = {
  { "host", "--origin ORIGIN", "serve the native-messaging protocol on stdin and stdout", cmd_host },
  { "keys", "--origin ORIGIN [--prefix P]", "list the keys of an origin as JSON", cmd_keys },
  { "get", "--origin ORIGIN [--prefix P] [KEY...]", "print items as JSON", cmd_get },
  { "set", "--origin ORIGIN KEY [JSON]", "store a JSON value (from stdin without JSON)", cmd_set },
  { "rm", "--origin ORIGIN KEY...", "remove items", cmd_rm },
  { "origins", "[--json]", "list the origins with data: items, bytes, encryption, lock", _nms_cli_origins },
  { "install", "[--user|--system] [--browser B,...]", "register the host with browsers (see --help)", _nms_cli_install },
  { "uninstall", "[--user|--system] [--browser B,...]", "remove the host's browser manifests", _nms_cli_uninstall },
  { "doctor", "[--browser B,...] [--json]", "find what stops a browser from reaching the host", _nms_cli_doctor },
  { "extensions", "add NAME --extension-id ID...|ls|rm NAME", "register the extensions install allows",
    _nms_cli_extensions },
  { "session", "ls|check|migrate --origin ORIGIN", "see, check and migrate the torrent session", _nms_cli_session },
  { "export", "--origin ORIGIN [--prefix P]", "print every item as one JSON object (--decrypt if encrypted)",
    _nms_cli_export },
  { "import", "--origin ORIGIN FILE", "merge an exported JSON object in, atomically", _nms_cli_import },
  { "backup", "--origin ORIGIN FILE", "write a consistent copy of the store, hosts running", _nms_cli_backup },
  { "restore", "--origin ORIGIN FILE", "replace every item with a backup's", _nms_cli_restore },
  { "encrypt", "--origin ORIGIN --passphrase|...", "encrypt in place (key: --passphrase, --key-file[=P], --keyring)",
    _nms_cli_encrypt },
  { "decrypt", "--origin ORIGIN", "decrypt an origin's store in place", _nms_cli_decrypt },
  { "passwd", "--origin ORIGIN [--key-file[=P]|...]", "change the passphrase or key source (re-wraps the key)",
    _nms_cli_passwd },
  { "rekey", "--origin ORIGIN", "re-encrypt every record with a new data key", _nms_cli_rekey },
  { "verify", "--origin ORIGIN", "check every record; exit 1 if any is damaged", _nms_cli_verify },
};

static void
print_help (FILE *to)
{
  gsize i;

  fprintf (to, "Usage: nmstore COMMAND [OPTION...]\n\n"
               "A native-messaging host that keeps browser-extension data in SQLite.\n"
               "A browser starts it as: nmstore chrome-extension://ID/  or  nmstore MANIFEST.json ADDON-ID\n\n"
               "Commands:\n");
  for (i = 0; i < G_N_ELEMENTS (commands); i++)
    /* Two lines each: it fits 80 columns, and help2man makes each
     * command an item of the man page (the second line must be indented
     * by 20 or more). */
    fprintf (to, "  %s %s\n%22s%s\n", commands[i].name, commands[i].args, "", commands[i].summary);
  fprintf (to, "\nData root: $NMSTORE_HOME, or $XDG_DATA_HOME/nmstore. Log level: NMSTORE_LOG=error|warning|info|debug.\n"
               "Run 'nmstore COMMAND --help' for a command's options.\n");
}

static int
run_browser_host (int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NmsOrigin) origin = nms_origin_from_argv (argc, argv, &error);
  g_autoptr(NmsConfig) config = NULL;

  if (origin == NULL || (config = _nms_cli_load_config (&error)) == NULL)
    return _nms_cli_fail_error (error);
  return nms_host_run (config, origin);
}

int
nms_cli_main (int argc, char **argv)
{
  gsize i;

  if (nms_origin_is_browser_argv (argc, argv))
    return run_browser_host (argc, argv);
  if (argc < 2 || g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h") || g_str_equal (argv[1], "help"))
    {
      print_help (argc < 2 ? stderr : stdout);
      return argc < 2 ? NMS_CLI_EXIT_USAGE : EXIT_SUCCESS;
    }
  if (g_str_equal (argv[1], "--version"))
    {
      g_print ("nmstore %s (protocol %d, host name %s)\n", NMS_VERSION, NMS_PROTOCOL_VERSION, NMS_HOST_NAME);
      g_print ("SQLite %s, cJSON %s, GLib %u.%u.%u, libsodium %s\n", nms_store_engine_version (), cJSON_Version (),
               glib_major_version, glib_minor_version, glib_micro_version, sodium_version_string ());
      g_print (nms_keysource_keyring_built ()
               ? "desktop keyring: yes (libsecret)\n"
               : "desktop keyring: no (built without libsecret; --keyring is unavailable)\n");
      return EXIT_SUCCESS;
    }
  for (i = 0; i < G_N_ELEMENTS (commands); i++)
    if (g_str_equal (argv[1], commands[i].name))
      return commands[i].run (argc - 1, argv + 1);

  g_printerr ("nmstore: unknown command \"%s\"\n\n", argv[1]);
  print_help (stderr);
  return NMS_CLI_EXIT_USAGE;
}
