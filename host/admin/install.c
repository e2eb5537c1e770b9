/* SPDX-License-Identifier: MIT */
/* install.c: what the host manifest says (the ids it allows, where the
 * host is), and writing and removing it (install.h). Which browser reads
 * which file is browsers.c's. */
#include "install-private.h"
#include "base/error.h"
#include "base/origin.h"
#include "base/os.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>

#define MANIFEST_DESCRIPTION "nmstore: a durable key-value store for browser extensions"

gboolean
nms_install_check_extension_id (const char *id, GError **error)
{
  if (nms_origin_is_chromium_id (id))
    return TRUE;
  g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST,
               "\"%s\" is not an extension id: an id is 32 letters from a to p, as chrome://extensions shows it", id);
  return FALSE;
}

gboolean
nms_install_check_firefox_id (const char *id, GError **error)
{
  const char *p;
  gboolean ok = *id != '\0' && strlen (id) <= 255;

  for (p = id; ok && *p != '\0'; p++)
    ok = g_ascii_isalnum (*p) || strchr ("@.-_+{}", *p) != NULL;
  ok = ok && (strchr (id, '@') != NULL || (id[0] == '{' && id[strlen (id) - 1] == '}'));
  if (!ok)
    g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST,
                 "\"%s\" is not a Firefox add-on id: use name@domain or a {UUID}, as about:debugging shows it", id);
  return ok;
}

/* The ids the manifest is asked to allow, companion first: for the
 * Chromium family bare extension ids, for Firefox add-on ids. */
static GPtrArray *
requested_ids (NmsInstallFamily family, const NmsInstallManifest *manifest, GError **error)
{
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  gboolean firefox = family == NMS_INSTALL_FIREFOX_FAMILY;
  const char **id;

  g_ptr_array_add (ids, g_strdup (firefox ? NMS_COMPANION_FIREFOX_ID : NMS_COMPANION_EXTENSION_ID));
  for (id = firefox ? manifest->firefox_ids : manifest->extension_ids; id != NULL && *id != NULL; id++)
    {
      if (firefox ? !nms_install_check_firefox_id (*id, error) : !nms_install_check_extension_id (*id, error))
        return NULL;
      g_ptr_array_add (ids, g_strdup (*id));
    }
  return g_steal_pointer (&ids);
}

static void
add_unique (GPtrArray *ids, const char *id)
{
  if (!g_ptr_array_find_with_equal_func (ids, id, g_str_equal, NULL))
    g_ptr_array_add (ids, g_strdup (id));
}

static char *
manifest_json_for_ids (NmsInstallFamily family, const char *host_path, GPtrArray *ids)
{
  cJSON *root = cJSON_CreateObject ();
  cJSON *allowed;
  char *text, *result;
  guint i;

  cJSON_AddStringToObject (root, "name", NMS_HOST_NAME);
  cJSON_AddStringToObject (root, "description", MANIFEST_DESCRIPTION);
  cJSON_AddStringToObject (root, "path", host_path);
  cJSON_AddStringToObject (root, "type", "stdio");
  if (family == NMS_INSTALL_FIREFOX_FAMILY)
    {
      allowed = cJSON_AddArrayToObject (root, "allowed_extensions");
      for (i = 0; i < ids->len; i++)
        cJSON_AddItemToArray (allowed, cJSON_CreateString (ids->pdata[i]));
    }
  else
    {
      allowed = cJSON_AddArrayToObject (root, "allowed_origins");
      for (i = 0; i < ids->len; i++)
        {
          g_autofree char *origin = g_strdup_printf ("chrome-extension://%s/", (char *) ids->pdata[i]);
          cJSON_AddItemToArray (allowed, cJSON_CreateString (origin));
        }
    }
  text = cJSON_Print (root);
  cJSON_Delete (root);
  result = g_strconcat (text, "\n", NULL);
  cJSON_free (text);
  return result;
}

char *
nms_install_manifest_json (NmsInstallFamily family, const char *host_path,
                           const NmsInstallManifest *manifest, GError **error)
{
  g_autoptr(GPtrArray) requested = requested_ids (family, manifest, error);
  g_autoptr(GPtrArray) ids = NULL;
  guint i;

  if (requested == NULL)
    return NULL;
  ids = g_ptr_array_new_with_free_func (g_free);
  for (i = 0; i < requested->len; i++)
    add_unique (ids, requested->pdata[i]);
  return manifest_json_for_ids (family, host_path, ids);
}

/* Adds to ids every well-formed id the manifest already at path allows.
 * A person who once ran `install --extension-id X` must not lose X when
 * the doctor's fix, or a package upgrade's postinst, runs a plain
 * `install`: the browser would then refuse X access. A missing or broken
 * manifest keeps nothing; that is the case install is there to repair. */
static void
add_allowed_ids (GPtrArray *ids, NmsInstallFamily family, const char *path)
{
  gboolean firefox = family == NMS_INSTALL_FIREFOX_FAMILY;
  g_autofree char *text = NULL;
  const cJSON *list, *item;
  cJSON *json;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return;
  json = cJSON_Parse (text);
  list = cJSON_GetObjectItemCaseSensitive (json, firefox ? "allowed_extensions" : "allowed_origins");
  if (!cJSON_IsArray (list))
    list = NULL;
  cJSON_ArrayForEach (item, list)
    {
      const char *value = cJSON_IsString (item) ? item->valuestring : NULL;

      if (value == NULL)
        continue;
      if (firefox && nms_install_check_firefox_id (value, NULL))
        add_unique (ids, value);
      else if (!firefox && g_str_has_prefix (value, "chrome-extension://")
               && strlen (value) == strlen ("chrome-extension://") + 32 + 1
               && g_str_has_suffix (value, "/"))
        {
          g_autofree char *id = g_strndup (value + strlen ("chrome-extension://"), 32);
          if (nms_origin_is_chromium_id (id))
            add_unique (ids, id);
        }
    }
  cJSON_Delete (json);
}

static gboolean
set_file_error (GError **error, int errsv, const char *what, const char *path)
{
  g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errsv), "cannot %s %s: %s%s", what, path,
               g_strerror (errsv),
               errsv == EACCES || errsv == EPERM || errsv == EROFS
                 ? "; a system-wide install needs root (sudo), or use --user" : "");
  return FALSE;
}

/* Creates dir and its missing parents readable by everybody: a browser
 * may run as another user than the one who installed, and nmstore's own
 * umask (077, for the store) would otherwise make them private. Only the
 * folders made here get a mode; existing ones are left as they are. */
static gboolean
make_public_dirs (const char *dir, GError **error)
{
  g_autofree char *parent = NULL;
  g_autoptr(GError) local = NULL;

  if (g_file_test (dir, G_FILE_TEST_IS_DIR))
    return TRUE;
  parent = g_path_get_dirname (dir);
  if (!g_str_equal (parent, dir) && !make_public_dirs (parent, error))
    return FALSE;
  if (!nms_os_make_public_dir (dir, 0755, &local))
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_IO, "%s%s", local->message,
                   strstr (local->message, "ermission") != NULL
                     ? "; a system-wide install needs root (sudo), or use --user" : "");
      return FALSE;
    }
  return TRUE;
}

/* Atomic: a browser reading at any moment sees the old file or the new.
 * The new file is created exclusively and given its mode through its
 * descriptor before it is renamed into place. */
static gboolean
write_public_file (const char *path, const char *text, int mode, GError **error)
{
  g_autoptr(GError) local = NULL;

  if (!nms_os_write_file_atomic (path, text, strlen (text), mode, &local))
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_IO, "%s%s", local->message,
                   strstr (local->message, "ermission") != NULL
                     ? "; a system-wide install needs root (sudo), or use --user" : "");
      return FALSE;
    }
  return TRUE;
}

static char *
wrapper_script (const char *binary)
{
  g_autofree char *quoted = g_shell_quote (binary);

  return g_strdup_printf ("#!/bin/sh\n"
                          "# Written by nmstore install. A Flatpak browser cannot run programs of the\n"
                          "# host system; flatpak-spawn --host starts nmstore outside the sandbox and\n"
                          "# passes stdin and stdout through. The app needs permission for it:\n"
                          "#   flatpak override --user --talk-name=org.freedesktop.Flatpak APP-ID\n"
                          "exec flatpak-spawn --host %s \"$@\"\n", quoted);
}

gboolean
nms_install_write (const NmsInstallTarget *target, const NmsInstallManifest *manifest, GError **error)
{
  g_autofree char *json = NULL;
  g_autoptr(GPtrArray) requested = NULL, ids = NULL;
  const char *host_path = manifest->binary;
  guint i;

  if (!g_path_is_absolute (manifest->binary))
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST,
                   "the host's path \"%s\" is relative; browsers on Linux and macOS need an absolute path",
                   manifest->binary);
      return FALSE;
    }
  if (target->wrapper != NULL)
    {
      g_autofree char *script = wrapper_script (manifest->binary);
      g_autofree char *wrapper_dir = g_path_get_dirname (target->wrapper);

      if (!make_public_dirs (wrapper_dir, error) || !write_public_file (target->wrapper, script, 0755, error))
        return FALSE;
      host_path = target->wrapper;
    }
  /* Chromium: the companion first, then what was allowed, then the new
   * ids; Firefox: what was allowed, then the add-ons asked for. */
  requested = requested_ids (target->browser->family, manifest, error);
  if (requested == NULL)
    return FALSE;
  ids = g_ptr_array_new_with_free_func (g_free);
  if (target->browser->family != NMS_INSTALL_FIREFOX_FAMILY)
    add_unique (ids, NMS_COMPANION_EXTENSION_ID);
  add_allowed_ids (ids, target->browser->family, target->path);
  for (i = 0; i < requested->len; i++)
    add_unique (ids, requested->pdata[i]);
  json = manifest_json_for_ids (target->browser->family, host_path, ids);
  return json != NULL && make_public_dirs (target->dir, error)
         && write_public_file (target->path, json, 0644, error);
}

static gboolean
remove_file (const char *path, gboolean *removed, GError **error)
{
  if (g_unlink (path) == 0)
    {
      *removed = TRUE;
      return TRUE;
    }
  return errno == ENOENT || set_file_error (error, errno, "remove", path);
}

/* Only folders that are empty go: one the browser or a person put other
 * things in stays. */
static void
remove_empty_dir (const char *path)
{
  if (path != NULL)
    (void) g_rmdir (path);
}

gboolean
nms_install_remove (const NmsInstallTarget *target, gboolean *removed, GError **error)
{
  *removed = FALSE;
  if (!remove_file (target->path, removed, error))
    return FALSE;
  if (target->wrapper != NULL)
    {
      g_autofree char *wrapper_dir = g_path_get_dirname (target->wrapper);
      gboolean wrapper_removed = FALSE;

      if (!remove_file (target->wrapper, &wrapper_removed, error))
        return FALSE;
      remove_empty_dir (wrapper_dir);
    }
  remove_empty_dir (target->dir);
  remove_empty_dir (target->base);
  return TRUE;
}
