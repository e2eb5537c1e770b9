/* SPDX-License-Identifier: MIT */
/* doctor-launch.c: starting the host the way a browser does and
 * exchanging hello with it, so that the doctor sees what the browser
 * would see: a host that will not start, one that dies, one that writes
 * something other than frames to stdout, or one that never answers. */
#include "doctor-private.h"

#include "wire/frame.h"
#include "nmstore/version.h"

#include <cjson/cJSON.h>
#include <gio/gio.h>
#include <string.h>

#define HELLO_REQUEST "{\"id\":\"doctor\",\"op\":\"hello\"}"

typedef struct {
  GMainLoop    *loop;
  GCancellable *cancellable;
  GBytes       *out;
  GBytes       *err;
  GError       *error;
  gboolean      timed_out;
} Exchange;

static void
on_communicated (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Exchange *x = user_data;

  g_subprocess_communicate_finish (G_SUBPROCESS (source), result, &x->out, &x->err, &x->error);
  g_main_loop_quit (x->loop);
}

static gboolean
on_timeout (gpointer user_data)
{
  Exchange *x = user_data;

  x->timed_out = TRUE;
  g_cancellable_cancel (x->cancellable);
  return G_SOURCE_REMOVE;
}

/* The first line the host wrote to stderr: usually the reason it died. */
static char *
first_line (GBytes *bytes)
{
  gsize len = 0;
  const char *data = bytes ? g_bytes_get_data (bytes, &len) : NULL;
  const char *end;

  if (len == 0)
    return g_strdup ("nothing");
  end = memchr (data, '\n', len);
  return g_utf8_make_valid (data, end ? (gssize) (end - data) : (gssize) MIN (len, 200));
}

static char *
describe_exit (GSubprocess *proc)
{
  if (g_subprocess_get_if_signaled (proc))
    return g_strdup_printf ("was killed by signal %d", g_subprocess_get_term_sig (proc));
  return g_strdup_printf ("exited with status %d", g_subprocess_get_exit_status (proc));
}

/* Reads what the host wrote: the first frame must be a hello reply. */
static gboolean
check_reply (GBytes *out, char **detail, char **fix)
{
  gsize len = 0;
  const guint8 *data = out ? g_bytes_get_data (out, &len) : NULL;
  guint32 header = 0;
  g_autofree char *start = NULL, *shown = NULL;
  cJSON *reply;
  const cJSON *name, *version, *store;

  if (len >= NMS_FRAME_HEADER_BYTES)
    memcpy (&header, data, NMS_FRAME_HEADER_BYTES);
  if (len < NMS_FRAME_HEADER_BYTES || header == 0 || header > NMS_FRAME_MAX_MESSAGE_BYTES
      || len - NMS_FRAME_HEADER_BYTES < header
      || (reply = cJSON_ParseWithLength ((const char *) data + NMS_FRAME_HEADER_BYTES, header)) == NULL)
    {
      start = len > 0 ? g_utf8_make_valid ((const char *) data, MIN (len, 24)) : g_strdup ("");
      shown = g_strescape (start, NULL);
      *detail = g_strdup_printf ("the host's stdout does not start with a frame; it starts with \"%s\", "
                                 "which the browser reads as a broken message and closes the port", shown);
      *fix = g_strdup ("something prints to stdout before nmstore's frames (a wrapper script, or a shell "
                       "startup file it sources); stdout must carry frames only: send that output to stderr (>&2)");
      return FALSE;
    }
  name = cJSON_GetObjectItemCaseSensitive (reply, "name");
  version = cJSON_GetObjectItemCaseSensitive (reply, "version");
  store = cJSON_GetObjectItemCaseSensitive (reply, "store");
  if (!cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (reply, "ok")) || !cJSON_IsString (name)
      || !g_str_equal (name->valuestring, NMS_HOST_NAME))
    {
      g_autofree char *text = g_strndup ((const char *) data + NMS_FRAME_HEADER_BYTES, MIN (header, 200));
      *detail = g_strdup_printf ("the host answered hello with %s", text);
      *fix = g_strdup ("the manifest's path names a program that is not nmstore, or an old one: "
                       "run nmstore install again to point it at this nmstore");
      cJSON_Delete (reply);
      return FALSE;
    }
  *detail = g_strdup_printf ("answered hello: %s %s, store %s", name->valuestring,
                             cJSON_IsString (version) ? version->valuestring : "?",
                             cJSON_IsString (store) ? store->valuestring : "(cannot be opened)");
  if (!cJSON_IsString (store))
    {
      *fix = g_strdup ("the host runs but cannot open its store: see the data root check above");
      cJSON_Delete (reply);
      return FALSE;
    }
  cJSON_Delete (reply);
  return TRUE;
}

gboolean
_nms_doctor_launch (NmsInstallFamily family, const char *host_path, const char *manifest_path,
                   const char *caller, char **detail, char **fix)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE
                                                                       | G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                                                       | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GMainLoop) loop = g_main_loop_new (context, FALSE);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GSource) timeout = g_timeout_source_new_seconds (NMS_DOCTOR_LAUNCH_TIMEOUT_S);
  g_autoptr(GByteArray) frame = g_byte_array_new ();
  g_autoptr(GBytes) nothing = g_bytes_new_static ("", 0);
  g_autofree char *workdir = g_path_get_dirname (host_path);
  g_autofree char *origin = NULL;
  Exchange x = { loop, cancellable, NULL, NULL, NULL, FALSE };
  gboolean ok = FALSE;

  /* Chrome passes the caller's origin and starts the host in its own
   * folder; Firefox passes the manifest's path and the add-on id. */
  g_subprocess_launcher_set_cwd (launcher, workdir);
  if (family == NMS_INSTALL_CHROMIUM_FAMILY)
    {
      origin = g_strdup_printf ("chrome-extension://%s/", caller);
      proc = g_subprocess_launcher_spawn (launcher, &error, host_path, origin, NULL);
    }
  else
    proc = g_subprocess_launcher_spawn (launcher, &error, host_path, manifest_path, caller, NULL);
  if (proc == NULL)
    {
      *detail = g_strdup_printf ("the browser cannot start %s: %s", host_path, error->message);
      *fix = g_strdup_printf ("check that %s is an executable program for this machine (a script needs a #! line)",
                              host_path);
      return FALSE;
    }

  /* The host serves every request that arrived before stdin closed, so
   * one hello followed by EOF also proves it ends when the browser goes.
   * A frame this small fits in the pipe at once; a host that has already
   * died makes the write fail, which the exit status explains better. */
  nms_frame_append (frame, HELLO_REQUEST, strlen (HELLO_REQUEST));
  (void) g_output_stream_write_all (g_subprocess_get_stdin_pipe (proc), frame->data, frame->len,
                                    NULL, NULL, NULL);
  g_main_context_push_thread_default (context);
  g_source_set_callback (timeout, on_timeout, &x, NULL);
  g_source_attach (timeout, context);
  g_subprocess_communicate_async (proc, nothing, cancellable, on_communicated, &x);
  g_main_loop_run (loop);
  g_source_destroy (timeout);
  g_main_context_pop_thread_default (context);

  if (x.timed_out)
    {
      g_subprocess_force_exit (proc);
      *detail = g_strdup_printf ("the host did not answer hello and exit within %d s", NMS_DOCTOR_LAUNCH_TIMEOUT_S);
      *fix = g_strdup_printf ("run '%s --version' in a terminal; if it hangs, reinstall nmstore", host_path);
    }
  else if (x.error != NULL)
    {
      g_subprocess_force_exit (proc);
      *detail = g_strdup_printf ("cannot talk to the host: %s", x.error->message);
      *fix = g_strdup_printf ("run '%s --version' in a terminal to see why it fails", host_path);
    }
  else if (x.out == NULL || g_bytes_get_size (x.out) == 0)
    {
      g_autofree char *how = describe_exit (proc);
      g_autofree char *said = first_line (x.err);
      *detail = g_strdup_printf ("the host %s before answering hello; on stderr it said: %s", how, said);
      *fix = g_strdup_printf ("run '%s --version' in a terminal to see why it cannot start; "
                              "if libraries are missing, reinstall with packaging/install.sh", host_path);
    }
  else
    ok = check_reply (x.out, detail, fix);

  g_clear_pointer (&x.out, g_bytes_unref);
  g_clear_pointer (&x.err, g_bytes_unref);
  g_clear_error (&x.error);
  return ok;
}

guint
_nms_doctor_portal_version (void)
{
  g_autoptr(GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, NULL);
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) value = NULL;

  if (bus == NULL)
    return 0;
  /* The property, not a .portal file: the WebExtensions portal is served
   * by xdg-desktop-portal itself, not by a desktop's backend. */
  reply = g_dbus_connection_call_sync (bus, "org.freedesktop.portal.Desktop", "/org/freedesktop/portal/desktop",
                                       "org.freedesktop.DBus.Properties", "Get",
                                       g_variant_new ("(ss)", "org.freedesktop.portal.WebExtensions", "version"),
                                       G_VARIANT_TYPE ("(v)"), G_DBUS_CALL_FLAGS_NONE,
                                       NMS_DOCTOR_LAUNCH_TIMEOUT_S * 1000, NULL, NULL);
  if (reply == NULL)
    return 0;
  g_variant_get (reply, "(v)", &value);
  return g_variant_is_of_type (value, G_VARIANT_TYPE_UINT32) ? g_variant_get_uint32 (value) : 0;
}
