/* harness.c: temporary data roots and nmstore processes over pipes. */
#include "harness.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

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

static void
child_setup_trampoline (gpointer user_data)
{
  gpointer *pair = user_data;
  ((NmtChildSetup) pair[0]) (pair[1]);
}

NmtHost *
nmt_host_start_argv (const char *home, const char *const *args, const char *const *extra_env)
{
  return nmt_host_start_full (home, args, extra_env, NULL, NULL);
}

NmtHost *
nmt_host_start_full (const char *home, const char *const *args, const char *const *extra_env,
                     NmtChildSetup setup, gpointer setup_data)
{
  gpointer pair[2] = { (gpointer) setup, setup_data };
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE
                                                                       | G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  NmtHost *host = g_new0 (NmtHost, 1);

  g_subprocess_launcher_setenv (launcher, "NMSTORE_HOME", home, TRUE);
  if (g_getenv ("NMSTORE_LOG") == NULL)
    g_subprocess_launcher_setenv (launcher, "NMSTORE_LOG", "error", TRUE);
  for (; extra_env != NULL && *extra_env != NULL; extra_env += 2)
    g_subprocess_launcher_setenv (launcher, extra_env[0], extra_env[1], TRUE);
  if (setup != NULL)
    g_subprocess_launcher_set_child_setup (launcher, child_setup_trampoline, pair, NULL);
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
nmt_host_start (const char *home, const char *origin)
{
  const char *args[] = { "host", "--origin", origin, NULL };
  return nmt_host_start_argv (home, args, NULL);
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

/* One reply or event, with chunk frames put back together. */
cJSON *
nmt_host_recv (NmtHost *host)
{
  g_autofree char *body = nmt_host_recv_frame (host, NULL);
  cJSON *msg, *chunks;
  g_autoptr(GString) whole = NULL;
  int n, i;

  if (body == NULL)
    return NULL;
  msg = cJSON_Parse (body);
  assert_non_null (msg);
  chunks = cJSON_GetObjectItemCaseSensitive (msg, "chunks");
  if (chunks == NULL)
    return msg;

  n = chunks->valueint;
  assert_true (n >= 2);
  whole = g_string_new (NULL);
  for (i = 0; i < n; i++)
    {
      cJSON *part, *index;
      if (i > 0)
        {
          g_autofree char *next = nmt_host_recv_frame (host, NULL);
          assert_non_null (next);
          cJSON_Delete (msg);
          msg = cJSON_Parse (next);
          assert_non_null (msg);
        }
      index = cJSON_GetObjectItemCaseSensitive (msg, "chunk");
      part = cJSON_GetObjectItemCaseSensitive (msg, "part");
      assert_true (cJSON_IsNumber (index) && index->valueint == i);
      assert_true (cJSON_IsString (part));
      g_string_append (whole, part->valuestring);
    }
  cJSON_Delete (msg);
  msg = cJSON_Parse (whole->str);
  assert_non_null (msg);
  return msg;
}

cJSON *
nmt_host_call (NmtHost *host, const char *json)
{
  assert_true (nmt_host_send (host, json));
  return nmt_host_recv (host);
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
int
nmt_run_cli (const char *home, const char *const *args, const char *stdin_text, char **out, char **err)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE
                                                                       | G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                                                       | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;

  g_subprocess_launcher_setenv (launcher, "NMSTORE_HOME", home, TRUE);
  add_program (argv);
  for (; *args != NULL; args++)
    g_ptr_array_add (argv, (gpointer) *args);
  g_ptr_array_add (argv, NULL);
  proc = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, &error);
  assert_non_null (proc);
  assert_true (g_subprocess_communicate_utf8 (proc, stdin_text ? stdin_text : "", NULL, out, err, &error));
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
