/* SPDX-License-Identifier: MIT */
/* harness.c: temporary data roots and nmstore processes over pipes. */
#define _POSIX_C_SOURCE 200809L

#include "harness.h"

#include <gio/gunixinputstream.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <poll.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The passphrase of NMT_ENCRYPTED=passphrase runs. */
#define NMT_PASSPHRASE "nmt suite passphrase"

/* argv[0..) for a spawned nmstore: the wrapper's words, then the binary. */
static void
add_program (GPtrArray *argv)
{
  const char *wrapper = g_getenv ("NMT_HOST_WRAPPER");
  g_autoptr(GError) error = NULL;
  char **words = NULL;

  if (wrapper != NULL && *wrapper != '\0')
    {
      if (!g_shell_parse_argv (wrapper, NULL, &words, &error))
        fail_msg ("NMT_HOST_WRAPPER cannot be parsed: %s", error->message);
      for (char **w = words; *w != NULL; w++)
        g_ptr_array_add (argv, *w); /* leaked on purpose: lives as long as the test */
      g_free (words);
    }
  g_ptr_array_add (argv, (gpointer) NMT_NMSTORE_BIN);
}

gboolean
nmt_host_wrapped (void)
{
  const char *wrapper = g_getenv ("NMT_HOST_WRAPPER");
  return wrapper != NULL && *wrapper != '\0';
}

/* A wrapper such as valgrind reports what it found through the exit status. */
static void
check_wrapper_status (GSubprocess *proc)
{
  if (nmt_host_wrapped () && g_subprocess_get_if_exited (proc)
      && g_subprocess_get_exit_status (proc) == NMT_WRAPPER_ERROR_STATUS)
    fail_msg ("the wrapper (%s) found errors in an nmstore process (exit status %d); see its log",
              g_getenv ("NMT_HOST_WRAPPER"), NMT_WRAPPER_ERROR_STATUS);
}

char *
nmt_make_home (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("nmstore-test-XXXXXX", &error);

  assert_non_null (dir);
  return dir;
}

void
nmt_remove_tree (const char *path)
{
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GFileEnumerator) children = NULL;
  GFileInfo *info;

  children = g_file_enumerate_children (file, G_FILE_ATTRIBUTE_STANDARD_NAME "," G_FILE_ATTRIBUTE_STANDARD_TYPE,
                                        G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, NULL, NULL);
  while (children != NULL && (info = g_file_enumerator_next_file (children, NULL, NULL)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, g_file_info_get_name (info), NULL);
      if (g_file_info_get_file_type (info) == G_FILE_TYPE_DIRECTORY)
        nmt_remove_tree (child);
      else
        g_unlink (child);
      g_object_unref (info);
    }
  g_rmdir (path);
}

NmtHost *
nmt_host_start_full (const char *home, const char *const *args, const NmtHostOptions *options)
{
  GSubprocessFlags flags = G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE;
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (flags);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  const char *const *env;
  NmtHost *host = g_new0 (NmtHost, 1);

  /* A host that has ended (killed, or done after E_TOO_LARGE) makes the
   * next write to its stdin fail with EPIPE; that must be a failed write
   * the test can see, not a SIGPIPE that ends the whole test program. */
  signal (SIGPIPE, SIG_IGN);

  g_subprocess_launcher_setenv (launcher, "NMSTORE_HOME", home, TRUE);
  if (g_getenv ("NMSTORE_LOG") == NULL)
    g_subprocess_launcher_setenv (launcher, "NMSTORE_LOG", "error", TRUE);
  for (env = options ? options->extra_env : NULL; env != NULL && *env != NULL; env += 2)
    g_subprocess_launcher_setenv (launcher, env[0], env[1], TRUE);
  if (options != NULL && options->stderr_path != NULL)
    g_subprocess_launcher_set_stderr_file_path (launcher, options->stderr_path);
  if (options != NULL && options->child_setup != NULL)
    g_subprocess_launcher_set_child_setup (launcher, options->child_setup, options->child_setup_data, NULL);
  add_program (argv);
  for (; *args != NULL; args++)
    g_ptr_array_add (argv, (gpointer) *args);
  g_ptr_array_add (argv, NULL);
  host->proc = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, &error);
  if (host->proc == NULL)
    fail_msg ("cannot start nmstore: %s", error->message);
  host->in = g_subprocess_get_stdin_pipe (host->proc);
  host->out = g_subprocess_get_stdout_pipe (host->proc);
  return host;
}

NmtHost *
nmt_host_start_argv (const char *home, const char *const *args, const char *const *extra_env)
{
  NmtHostOptions options = { .extra_env = extra_env };
  return nmt_host_start_full (home, args, &options);
}

NmtHost *
nmt_host_start (const char *home, const char *origin)
{
  const char *args[] = { "host", "--origin", origin, NULL };
  const char *mode = g_getenv ("NMT_ENCRYPTED");
  NmtHost *host;

  /* NMT_ENCRYPTED runs a suite against an encrypted origin: unlocked by a
   * key file beside the store (1), or by the unlock op with a passphrase
   * (passphrase), sent here before the suite's first request. Every
   * protocol check must hold there too. */
  if (g_strcmp0 (mode, "passphrase") == 0)
    nmt_encrypt_origin_passphrase (home, origin);
  else if (mode != NULL)
    nmt_encrypt_origin (home, origin);
  host = nmt_host_start_argv (home, args, NULL);
  nmt_host_unlock_suite (host);
  return host;
}

/* Under NMT_ENCRYPTED=passphrase, unlocks a host the suite started, as
 * the browser's status page would; otherwise nothing. */
void
nmt_host_unlock_suite (NmtHost *host)
{
  cJSON *reply;

  if (g_strcmp0 (g_getenv ("NMT_ENCRYPTED"), "passphrase") != 0)
    return;
  reply = nmt_host_call (host, "{\"id\":\"nmt-unlock\",\"op\":\"unlock\",\"passphrase\":\"" NMT_PASSPHRASE "\"}");
  nmt_assert_ok (reply);
  cJSON_Delete (reply);
}

void
nmt_encrypt_origin (const char *home, const char *origin)
{
  const char *args[] = { "encrypt", "--origin", origin, "--key-file", NULL };
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  if (nmt_run_cli (home, args, NULL, &out, &err) != 0 && strstr (err, "already encrypted") == NULL)
    fail_msg ("cannot encrypt %s: %s", origin, err);
}

/* Encrypts with NMT_PASSPHRASE, Argon2id at its cheapest: the conversion
 * alone reads a config that adds those limits to the suite's own, which is
 * put back as it was after. Without them, a suite that wrote its own
 * nmstore.conf got the moderate default: 256 MiB, 12 s for the conversion
 * and again for each unlock under valgrind. The store records its limits,
 * so the hosts that unlock it later use them too. */
void
nmt_encrypt_origin_passphrase (const char *home, const char *origin)
{
  const char *args[] = { "encrypt", "--origin", origin, "--passphrase", "--passphrase-fd", "0", NULL };
  const char *cheapest = "[crypto]\npwhash_opslimit = 1\npwhash_memlimit = 8192\n";
  g_autofree char *conf = g_build_filename (home, "nmstore.conf", NULL);
  g_autofree char *suite_conf = NULL;
  g_autofree char *with_limits = NULL;  /* NULL: the suite's config as it is */
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status;

  /* A suite that sets the limits itself keeps its own. */
  if (!g_file_get_contents (conf, &suite_conf, NULL, NULL))
    with_limits = g_strdup (cheapest);
  else if (strstr (suite_conf, "pwhash_") == NULL)
    with_limits = g_strconcat (suite_conf, "\n", cheapest, NULL);
  if (with_limits != NULL)
    nmt_write_file (conf, with_limits);
  status = nmt_run_cli (home, args, NMT_PASSPHRASE "\n", &out, &err);
  if (suite_conf != NULL)
    nmt_write_file (conf, suite_conf);
  else
    g_unlink (conf);
  if (status != 0 && strstr (err, "already encrypted") == NULL)
    fail_msg ("cannot encrypt %s: %s", origin, err);
}

gboolean
nmt_host_send_raw (NmtHost *host, const void *data, gsize len)
{
  return g_output_stream_write_all (host->in, data, len, NULL, NULL, NULL);
}

gboolean
nmt_host_send_frame (NmtHost *host, const void *data, gsize len)
{
  guint32 header = (guint32) len;
  return nmt_host_send_raw (host, &header, sizeof header) && nmt_host_send_raw (host, data, len);
}

gboolean
nmt_host_send (NmtHost *host, const char *json)
{
  return nmt_host_send_frame (host, json, strlen (json));
}

/* One frame's body, NUL-terminated; NULL at end of output. */
char *
nmt_host_recv_frame (NmtHost *host, gsize *len)
{
  guint32 header;
  gsize n = 0;
  char *body;

  if (!g_input_stream_read_all (host->out, &header, sizeof header, &n, NULL, NULL) || n != sizeof header)
    return NULL;
  assert_true (header <= 1024 * 1024); /* the browser's limit on a host message */
  body = g_malloc (header + 1);
  if (!g_input_stream_read_all (host->out, body, header, &n, NULL, NULL) || n != header)
    {
      g_free (body);
      return NULL;
    }
  body[header] = '\0';
  if (len != NULL)
    *len = header;
  return body;
}

/* One reply's full JSON text, with chunk frames checked strictly against
 * the protocol and put back together; NULL at end of output. *n_frames
 * says how many frames carried it. */
char *
nmt_host_recv_text (NmtHost *host, gsize *len, guint *n_frames)
{
  g_autofree char *body = nmt_host_recv_frame (host, len);
  g_autoptr(GString) whole = NULL;
  cJSON *first, *chunks, *id, *reassembled;
  int n, i;

  if (n_frames != NULL)
    *n_frames = 1;
  if (body == NULL)
    return NULL;
  first = cJSON_Parse (body);
  if (first == NULL)
    fail_msg ("the host sent a frame that is not JSON: %.200s", body);
  chunks = cJSON_GetObjectItemCaseSensitive (first, "chunks");
  if (chunks == NULL)
    {
      cJSON_Delete (first);
      return g_steal_pointer (&body);
    }

  assert_true (cJSON_IsNumber (chunks));
  n = chunks->valueint;
  assert_true (n >= 2);
  id = cJSON_GetObjectItemCaseSensitive (first, "id");
  assert_non_null (id);
  whole = g_string_new (NULL);
  for (i = 0; i < n; i++)
    {
      g_autofree char *next = i == 0 ? g_steal_pointer (&body) : nmt_host_recv_frame (host, NULL);
      cJSON *msg, *index, *part, *count;

      if (next == NULL)
        fail_msg ("the output ended after chunk %d of %d", i, n);
      msg = cJSON_Parse (next);
      assert_non_null (msg);
      /* Exactly the four members the protocol names, nothing else. */
      assert_int_equal (cJSON_GetArraySize (msg), 4);
      index = cJSON_GetObjectItemCaseSensitive (msg, "chunk");
      count = cJSON_GetObjectItemCaseSensitive (msg, "chunks");
      part = cJSON_GetObjectItemCaseSensitive (msg, "part");
      assert_true (cJSON_IsNumber (index) && index->valueint == i);
      assert_true (cJSON_IsNumber (count) && count->valueint == n);
      assert_true (cJSON_Compare (cJSON_GetObjectItemCaseSensitive (msg, "id"), id, TRUE));
      assert_true (cJSON_IsString (part));
      g_string_append (whole, part->valuestring);
      cJSON_Delete (msg);
    }

  /* The id of the chunks is the id of the reply they carry. */
  reassembled = cJSON_Parse (whole->str);
  if (reassembled == NULL)
    fail_msg ("the chunks of a reply do not concatenate to JSON");
  assert_true (cJSON_Compare (cJSON_GetObjectItemCaseSensitive (reassembled, "id"), id, TRUE));
  cJSON_Delete (reassembled);
  cJSON_Delete (first);
  if (len != NULL)
    *len = whole->len;
  if (n_frames != NULL)
    *n_frames = (guint) n;
  return g_string_free (g_steal_pointer (&whole), FALSE);
}

/* One reply or event, with chunk frames put back together. */
cJSON *
nmt_host_recv (NmtHost *host)
{
  g_autofree char *text = nmt_host_recv_text (host, NULL, NULL);
  cJSON *msg;

  if (text == NULL)
    return NULL;
  msg = cJSON_Parse (text);
  if (msg == NULL)
    fail_msg ("the host sent a reply that is not JSON: %.200s", text);
  return msg;
}

cJSON *
nmt_host_call (NmtHost *host, const char *json)
{
  assert_true (nmt_host_send (host, json));
  return nmt_host_recv (host);
}

void
nmt_host_call_ok (NmtHost *host, const char *json)
{
  cJSON *reply = nmt_host_call (host, json);

  if (reply == NULL)
    fail_msg ("no reply to %.200s", json);
  nmt_assert_ok (reply);
  cJSON_Delete (reply);
}

void
nmt_host_call_error (NmtHost *host, const char *json, const char *code)
{
  cJSON *reply = nmt_host_call (host, json);

  if (reply == NULL)
    fail_msg ("no reply to %.200s", json);
  nmt_assert_error (reply, code);
  cJSON_Delete (reply);
}

void
nmt_host_close_input (NmtHost *host)
{
  g_output_stream_close (host->in, NULL, NULL);
}

int
nmt_host_wait (NmtHost *host)
{
  g_autoptr(GError) error = NULL;

  assert_true (g_subprocess_wait (host->proc, NULL, &error));
  check_wrapper_status (host->proc);
  if (g_subprocess_get_if_signaled (host->proc))
    return 128 + g_subprocess_get_term_sig (host->proc);
  return g_subprocess_get_exit_status (host->proc);
}

void
nmt_host_signal (NmtHost *host, int signum)
{
  g_subprocess_send_signal (host->proc, signum);
}

void
nmt_host_kill (NmtHost *host)
{
  host->killed = TRUE;
  g_subprocess_force_exit (host->proc);
  g_subprocess_wait (host->proc, NULL, NULL);
}

int
nmt_host_pid (NmtHost *host)
{
  const char *id = g_subprocess_get_identifier (host->proc);
  return id != NULL ? atoi (id) : -1;
}

/* A host still running at the end of a test is ended the way a browser
 * ends one (pipes closed, SIGTERM), so that a wrapper such as valgrind
 * gets to report leaks at its exit, and its verdict is checked. */
void
nmt_host_free (NmtHost *host)
{
  if (host == NULL)
    return;
  if (g_subprocess_get_identifier (host->proc) != NULL)
    {
      g_output_stream_close (host->in, NULL, NULL);
      g_input_stream_close (host->out, NULL, NULL);
      g_subprocess_send_signal (host->proc, SIGTERM);
      g_subprocess_wait (host->proc, NULL, NULL);
    }
  if (!host->killed)
    check_wrapper_status (host->proc);
  g_object_unref (host->proc);
  g_free (host);
}

/* Whether the host has output waiting within timeout_ms. Its stdout is an
 * unbuffered pipe stream, so the descriptor tells the whole truth. */
gboolean
nmt_host_readable (NmtHost *host, int timeout_ms)
{
  struct pollfd pfd = { .fd = g_unix_input_stream_get_fd (G_UNIX_INPUT_STREAM (host->out)), .events = POLLIN };

  return poll (&pfd, 1, timeout_ms) > 0;
}

gint64
nmt_proc_status_kib (int pid, const char *field)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/status", pid);
  g_autofree char *text = NULL;
  g_autofree char *label = g_strdup_printf ("\n%s:", field);
  const char *at;

  if (!g_file_get_contents (path, &text, NULL, NULL) || (at = strstr (text, label)) == NULL)
    return -1;
  return g_ascii_strtoll (at + strlen (label), NULL, 10);
}

/* Runs `nmstore ARGS...` to completion; returns its exit status. */
/* The command's standard input: text in an unlinked temporary file, so
 * that a command that exits before reading it (a refused argument) is no
 * broken pipe for the test, whatever the timing. */
static void
give_stdin (GSubprocessLauncher *launcher, const char *text)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;
  gsize len = text ? strlen (text) : 0;
  int fd = g_file_open_tmp ("nmt-stdin-XXXXXX", &path, &error);

  if (fd < 0)
    fail_msg ("cannot make the command's standard input: %s", error->message);
  g_unlink (path);
  assert_true (len == 0 || write (fd, text, len) == (gssize) len);
  assert_true (lseek (fd, 0, SEEK_SET) == 0);
  g_subprocess_launcher_take_stdin_fd (launcher, fd);
}

/* Under NMT_ENCRYPTED=passphrase, a storage command is given the suite's
 * passphrase on descriptor 3, the way a script would give it, so that the
 * command-line suites run against a passphrase origin as they are. */
static void
give_passphrase (GSubprocessLauncher *launcher, GPtrArray *argv, const char *command)
{
  static const char *const storage[] = { "keys", "get", "set", "rm", "session", "import", "export", "verify", NULL };
  int fds[2];

  if (g_strcmp0 (g_getenv ("NMT_ENCRYPTED"), "passphrase") != 0 || !g_strv_contains (storage, command))
    return;
  assert_true (g_unix_open_pipe (fds, FD_CLOEXEC, NULL));
  assert_true (write (fds[1], NMT_PASSPHRASE "\n", sizeof NMT_PASSPHRASE) == (gssize) sizeof NMT_PASSPHRASE);
  close (fds[1]);
  g_subprocess_launcher_take_fd (launcher, fds[0], 3);
  g_ptr_array_add (argv, (gpointer) "--passphrase-fd");
  g_ptr_array_add (argv, (gpointer) "3");
}

int
nmt_run_cli (const char *home, const char *const *args, const char *stdin_text, char **out, char **err)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                                                       | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;
  const char *const *first;

  g_subprocess_launcher_setenv (launcher, "NMSTORE_HOME", home, TRUE);
  give_stdin (launcher, stdin_text);
  add_program (argv);
  for (first = args; *args != NULL; args++)
    {
      g_ptr_array_add (argv, (gpointer) *args);
      if (args == first)
        give_passphrase (launcher, argv, *args);
    }
  g_ptr_array_add (argv, NULL);
  proc = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, &error);
  assert_non_null (proc);
  assert_true (g_subprocess_communicate_utf8 (proc, NULL, NULL, out, err, &error));
  check_wrapper_status (proc);
  return g_subprocess_get_exit_status (proc);
}

void
nmt_assert_ok (const cJSON *reply)
{
  const cJSON *ok = cJSON_GetObjectItemCaseSensitive (reply, "ok");

  if (!cJSON_IsTrue (ok))
    {
      char *text = cJSON_PrintUnformatted (reply);
      fail_msg ("expected ok:true, got %s", text);
    }
}

void
nmt_assert_error (const cJSON *reply, const char *code)
{
  const cJSON *err = cJSON_GetObjectItemCaseSensitive (reply, "error");
  const cJSON *c = cJSON_GetObjectItemCaseSensitive (err, "code");
  const cJSON *m = cJSON_GetObjectItemCaseSensitive (err, "message");

  if (!cJSON_IsFalse (cJSON_GetObjectItemCaseSensitive (reply, "ok")) || !cJSON_IsString (c)
      || strcmp (c->valuestring, code) != 0 || !cJSON_IsString (m) || m->valuestring[0] == '\0')
    {
      char *text = cJSON_PrintUnformatted (reply);
      fail_msg ("expected error %s with a message, got %s", code, text);
    }
}

void
nmt_assert_json (const cJSON *actual, const char *expected)
{
  cJSON *want = cJSON_Parse (expected);

  assert_non_null (want);
  if (!cJSON_Compare (actual, want, TRUE))
    {
      char *text = actual ? cJSON_PrintUnformatted (actual) : NULL;
      fail_msg ("expected %s, got %s", expected, text ? text : "(nothing)");
    }
  cJSON_Delete (want);
}

cJSON *
nmt_member (const cJSON *object, const char *name)
{
  cJSON *member = cJSON_GetObjectItemCaseSensitive (object, name);

  if (member == NULL)
    {
      char *text = object ? cJSON_PrintUnformatted (object) : NULL;
      fail_msg ("no member \"%s\" in %.500s", name, text ? text : "(nothing)");
    }
  return member;
}

gboolean
nmt_contains (const void *hay, gsize len, const char *needle)
{
  const guint8 *h = hay;
  gsize n = strlen (needle), i;

  for (i = 0; n > 0 && i + n <= len; i++)
    if (h[i] == (guint8) needle[0] && memcmp (h + i, needle, n) == 0)
      return TRUE;
  return FALSE;
}

void
nmt_write_file (const char *path, const char *contents)
{
  g_autoptr(GError) error = NULL;

  if (!g_file_set_contents (path, contents, -1, &error))
    fail_msg ("cannot write %s: %s", path, error->message);
}

void
nmt_write_config (const char *home, const char *contents)
{
  g_autofree char *path = g_build_filename (home, "nmstore.conf", NULL);
  nmt_write_file (path, contents);
}

int
nmt_fixture_setup (void **state)
{
  NmtFixture *f = g_new0 (NmtFixture, 1);

  f->home = nmt_make_home ();
  f->host = nmt_host_start (f->home, NMT_ORIGIN);
  *state = f;
  return 0;
}

int
nmt_fixture_teardown (void **state)
{
  NmtFixture *f = *state;
  int status = 0;

  if (f->host != NULL)
    {
      nmt_host_close_input (f->host);
      status = nmt_host_wait (f->host);
      if (status != 0)
        print_error ("the host exited with status %d at the end of the test\n", status);
      nmt_host_free (f->host);
    }
  nmt_remove_tree (f->home);
  g_free (f->home);
  g_free (f);
  return status == 0 ? 0 : -1;
}

void
nmt_frame_append (GByteArray *out, const void *data, gsize len)
{
  guint32 header = (guint32) len;

  g_byte_array_append (out, (const guint8 *) &header, sizeof header);
  g_byte_array_append (out, data, (guint) len);
}

void
nmt_frame_append_str (GByteArray *out, const char *json)
{
  nmt_frame_append (out, json, strlen (json));
}

/* Asserts that host holds exactly the items expected (JSON text). */
void
nmt_assert_items (NmtHost *host, const char *expected)
{
  cJSON *reply = nmt_host_call (host, "{\"op\":\"get\"}");

  assert_non_null (reply);
  nmt_assert_ok (reply);
  nmt_assert_json (nmt_member (reply, "items"), expected);
  cJSON_Delete (reply);
}
