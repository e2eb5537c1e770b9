/* SPDX-License-Identifier: MIT */
/* cli-crypt.c: the encryption commands: encrypt, decrypt, passwd, rekey
 * and verify. Each opens the origin's store directly (they act on the
 * whole store, not through protocol requests) and leaves the work to
 * store-convert.c. Passphrases come from the terminal without echo, or
 * from --passphrase-fd N, never from an argument. */
#include "cli-common.h"
#include "cli-private.h"
#include "config/config.h"
#include "base/error.h"
#include "config/keysource.h"
#include "base/log.h"
#include "base/origin.h"
#include "base/progress.h"
#include "config/store-origin.h"
#include "store/store.h"

#include <stdio.h>
#include <string.h>

typedef struct {
  char    *origin;
  gboolean passphrase;
  gboolean keyring;
  gboolean key_file;
  char    *key_file_path;   /* NULL: store.key beside the database */
  int      passphrase_fd;   /* -1: the terminal */
  gboolean quiet;           /* no progress on standard error */
} Args;

static void
args_clear (Args *args)
{
  g_free (args->origin);
  g_free (args->key_file_path);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Args, args_clear)

static gboolean
take_key_file (const char *name, const char *value, gpointer data, GError **error)
{
  Args *args = data;

  args->key_file = TRUE;
  g_free (args->key_file_path);
  args->key_file_path = value != NULL && *value != '\0' ? g_canonicalize_filename (value, NULL) : NULL;
  return TRUE;
}

/* with_sources: the command chooses a key source (encrypt, passwd). */
static GOptionContext *
make_context (const char *summary, Args *args, gboolean with_sources)
{
  GOptionContext *context = g_option_context_new (summary);
  GOptionGroup *group = g_option_group_new ("crypt", "", "", args, NULL);
  GOptionEntry common[] = {
    { "origin", 'o', 0, G_OPTION_ARG_STRING, &args->origin, "The extension's origin", "ORIGIN" },
    { "passphrase-fd", 0, 0, G_OPTION_ARG_INT, &args->passphrase_fd,
      "Read passphrases from file descriptor N, one per line, instead of the terminal", "N" },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &args->quiet, "Print no progress on standard error", NULL },
    { NULL }
  };
  GOptionEntry sources[] = {
    { "passphrase", 0, 0, G_OPTION_ARG_NONE, &args->passphrase, "Protect the key with a passphrase (Argon2id)", NULL },
    { "key-file", 0, G_OPTION_FLAG_OPTIONAL_ARG, G_OPTION_ARG_CALLBACK, (gpointer) take_key_file,
      "Protect the key with a key file: store.key beside the store, or --key-file=PATH", "PATH" },
    { "keyring", 0, 0, G_OPTION_ARG_NONE, &args->keyring, "Keep the key in the desktop keyring (libsecret)", NULL },
    { NULL }
  };

  args->passphrase_fd = -1;
  g_option_group_add_entries (group, common);
  if (with_sources)
    g_option_group_add_entries (group, sources);
  g_option_context_set_main_group (context, group);
  return context;
}

static NmsStore *
open_store (const Args *args, NmsConfig **config_out, NmsOrigin **origin_out, GError **error)
{
  g_autoptr(NmsOrigin) origin = _nms_cli_parse_origin (args->origin, error);
  g_autoptr(NmsConfig) config = NULL;
  NmsStore *store;

  if (origin == NULL || (config = nms_config_load (NULL, error)) == NULL)
    return NULL;
  nms_log_init (config->log_file);
  if (!nms_crypto_init (error))
    return NULL;
  store = nms_store_open_origin (config, origin, error);
  if (store != NULL && config_out != NULL)
    *config_out = g_steal_pointer (&config);
  if (store != NULL && origin_out != NULL)
    *origin_out = g_steal_pointer (&origin);
  return store;
}

static NmsCryptoSecret *
read_passphrase (const Args *args, const char *prompt, GError **error)
{
  return nms_keysource_read_passphrase (args->passphrase_fd, prompt, error);
}

/* A new passphrase is typed twice on a terminal; a script gives it once. */
static NmsCryptoSecret *
read_new_passphrase (const Args *args, GError **error)
{
  g_autoptr(NmsCryptoSecret) first = read_passphrase (args, "New passphrase: ", error);
  g_autoptr(NmsCryptoSecret) again = NULL;

  if (first == NULL || args->passphrase_fd >= 0)
    return g_steal_pointer (&first);
  again = read_passphrase (args, "New passphrase again: ", error);
  if (again == NULL)
    return NULL;
  if (nms_crypto_secret_len (first) != nms_crypto_secret_len (again)
      || memcmp (nms_crypto_secret_peek (first), nms_crypto_secret_peek (again), nms_crypto_secret_len (first)) != 0)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_AUTH, "the two passphrases differ; nothing was changed");
      return NULL;
    }
  return g_steal_pointer (&first);
}

/* The store's current passphrase, when its key needs one. */
static gboolean
current_passphrase (const Args *args, NmsStore *store, NmsCryptoSecret **out, GError **error)
{
  *out = NULL;
  if (!nms_store_encrypted (store) || nms_store_key_source (store) != NMS_CRYPTO_SOURCE_PASSPHRASE)
    return TRUE;
  *out = read_passphrase (args, "Passphrase: ", error);
  return *out != NULL;
}

/* decrypt and verify read the records: a passphrase origin is unlocked
 * for the person, as every command does; a key file or keyring is tried
 * again, so that why it did not open the store when it was opened is the
 * command's error. */
static gboolean
unlock_store (const Args *args, NmsStore *store, const NmsOrigin *origin, GError **error)
{
  NmsCliUnlock unlock = { args->passphrase_fd, NULL, NULL };

  if (!nms_store_encrypted (store))
    return TRUE;
  if (nms_store_key_source (store) == NMS_CRYPTO_SOURCE_PASSPHRASE)
    return _nms_cli_unlock_for_person (store, origin, &unlock, error);
  return nms_store_unlock (store, NULL, error);
}

/* A conversion that committed but whose file rewrite is still pending
 * has converted the data: the command succeeds, and says what is left. */
static void
report_scrub (NmsStore *store)
{
  const char *note = nms_store_scrub_note (store);

  if (note != NULL)
    fprintf (stderr, "nmstore: note: %s\n", note);
}

static int
parse (GOptionContext *context, int *argc, char ***argv, const Args *args, const char *usage)
{
  g_autoptr(GError) error = NULL;

  if (!g_option_context_parse (context, argc, argv, &error))
    return _nms_cli_fail_usage (context, error->message);
  if (args->origin == NULL || *argc != 1)
    return _nms_cli_fail_usage (context, usage);
  return 0;
}

/* The key source that encrypt or passwd asked for; passwd defaults to a
 * (new) passphrase. */
static gboolean
chosen_source (GOptionContext *context, const Args *args, gboolean required, NmsCryptoSource *source, int *exit_code)
{
  int n = !!args->passphrase + !!args->key_file + !!args->keyring;

  if (n > 1 || (n == 0 && required))
    {
      *exit_code = _nms_cli_fail_usage (context, "choose one of --passphrase, --key-file[=PATH] or --keyring");
      return FALSE;
    }
  *source = args->key_file ? NMS_CRYPTO_SOURCE_KEY_FILE
            : args->keyring ? NMS_CRYPTO_SOURCE_KEYRING : NMS_CRYPTO_SOURCE_PASSPHRASE;
  return TRUE;
}

static int
run_rewrap_or_encrypt (int argc, char **argv, gboolean encrypt)
{
  g_auto(Args) args = { 0 };
  g_autoptr(GOptionContext) context = make_context (encrypt
      ? "- encrypt an origin's store in place"
      : "- change the passphrase or key source of an encrypted origin (re-wraps its key only)", &args, TRUE);
  g_autoptr(GError) error = NULL;
  g_autoptr(NmsStore) store = NULL;
  g_autoptr(NmsConfig) config = NULL;
  g_autoptr(NmsCryptoSecret) current = NULL;
  g_autoptr(NmsCryptoSecret) fresh = NULL;
  g_autoptr(NmsProgress) progress = NULL;
  NmsStoreKeySource to = { 0 };
  gboolean ok;
  int code;

  if ((code = parse (context, &argc, &argv, &args, encrypt
                     ? "encrypt takes --origin ORIGIN and one of --passphrase, --key-file[=PATH], --keyring"
                     : "passwd takes --origin ORIGIN [--passphrase | --key-file[=PATH] | --keyring]")) != 0)
    return code;
  if (!chosen_source (context, &args, encrypt, &to.source, &code))
    return code;
  if ((store = open_store (&args, &config, NULL, &error)) == NULL)
    return _nms_cli_fail_error (error);
  if (!encrypt && !current_passphrase (&args, store, &current, &error))
    return _nms_cli_fail_error (error);
  if (to.source == NMS_CRYPTO_SOURCE_PASSPHRASE && (fresh = read_new_passphrase (&args, &error)) == NULL)
    return _nms_cli_fail_error (error);
  to.passphrase = fresh;
  to.key_file = args.key_file_path;
  to.limits = config->pwhash;
  /* passwd re-wraps one key: quick whatever the store's size. */
  if (encrypt)
    progress = nms_progress_new_stderr ("encrypting", "items", args.quiet);
  nms_store_set_progress (store, nms_progress_step, progress);
  ok = encrypt ? nms_store_encrypt (store, &to, &error) : nms_store_rewrap (store, current, &to, &error);
  nms_progress_done (progress);
  if (!ok)
    return _nms_cli_fail_error (error);
  report_scrub (store);
  printf ("%s %s: its key is now protected by %s\n", encrypt ? "encrypted" : "re-wrapped the key of",
          args.origin, nms_crypto_source_name (to.source));
  return EXIT_SUCCESS;
}

int
_nms_cli_encrypt (int argc, char **argv)
{
  return run_rewrap_or_encrypt (argc, argv, TRUE);
}

int
_nms_cli_passwd (int argc, char **argv)
{
  return run_rewrap_or_encrypt (argc, argv, FALSE);
}

/* decrypt, rekey and verify: the current key, then one store call. */
typedef enum { ACT_DECRYPT, ACT_REKEY, ACT_VERIFY } Act;

static int
run_with_key (int argc, char **argv, Act act)
{
  static const char *const summaries[] = {
    "- decrypt an origin's store in place",
    "- make a new data key and re-encrypt every record with it, in one transaction",
    "- check every record of an origin's store and report",
  };
  g_auto(Args) args = { 0 };
  g_autoptr(GOptionContext) context = make_context (summaries[act], &args, FALSE);
  g_autoptr(GError) error = NULL;
  g_autoptr(NmsStore) store = NULL;
  g_autoptr(NmsOrigin) origin = NULL;
  g_autoptr(NmsCryptoSecret) current = NULL;
  g_autoptr(NmsProgress) progress = NULL;
  static const char *const verbs[] = { "decrypting", "re-keying", "verifying" };
  guint good = 0, bad = 0;
  gboolean ok = FALSE;
  int code;

  if ((code = parse (context, &argc, &argv, &args, "takes --origin ORIGIN [--passphrase-fd N]")) != 0)
    return code;
  /* rekey takes the passphrase itself: it opens the data key without
   * checking the records, which is how a person accepts a store whose
   * records no longer match their summary. */
  if ((store = open_store (&args, NULL, &origin, &error)) == NULL
      || !(act == ACT_REKEY ? current_passphrase (&args, store, &current, &error)
                            : unlock_store (&args, store, origin, &error)))
    return _nms_cli_fail_error (error);
  progress = nms_progress_new_stderr (verbs[act], "items", args.quiet);
  nms_store_set_progress (store, nms_progress_step, progress);
  switch (act)
    {
    case ACT_DECRYPT:
      ok = nms_store_decrypt (store, &error);
      break;
    case ACT_REKEY:
      ok = nms_store_rekey (store, current, &error);
      break;
    case ACT_VERIFY:
      ok = nms_store_verify (store, &good, &bad, &error);
      break;
    }
  nms_progress_done (progress);
  if (!ok)
    return _nms_cli_fail_error (error);
  switch (act)
    {
    case ACT_DECRYPT:
      report_scrub (store);
      printf ("decrypted %s\n", args.origin);
      return EXIT_SUCCESS;
    case ACT_REKEY:
      report_scrub (store);
      printf ("re-keyed %s: every record is sealed with a new data key\n", args.origin);
      return EXIT_SUCCESS;
    case ACT_VERIFY:
      printf ("%s: %s, %u record%s checked, %u good, %u damaged%s\n", args.origin,
              nms_store_encrypted (store) ? "encrypted" : "not encrypted", good + bad, good + bad == 1 ? "" : "s",
              good, bad, bad ? " (their tokens are in the log; remove or rewrite those keys, or restore a backup)"
                             : "");
      return bad ? EXIT_FAILURE : EXIT_SUCCESS;
    }
  return EXIT_FAILURE;
}

int
_nms_cli_decrypt (int argc, char **argv)
{
  return run_with_key (argc, argv, ACT_DECRYPT);
}

int
_nms_cli_rekey (int argc, char **argv)
{
  return run_with_key (argc, argv, ACT_REKEY);
}

int
_nms_cli_verify (int argc, char **argv)
{
  return run_with_key (argc, argv, ACT_VERIFY);
}
