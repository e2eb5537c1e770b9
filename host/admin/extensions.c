/* SPDX-License-Identifier: MIT */
/* extensions.c: the drop-in registry of extensions that use nmstore
 * (extensions.h). A package of a third-party extension ships one file
 * and runs `nmstore install`; no package edits another's manifest. */
#define _XOPEN_SOURCE 700  /* lstat */
#include "admin/extensions.h"
#include "base/error.h"
#include "base/os.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SUFFIX ".conf"
#define MAX_NAME 64
#define MAX_FILE_BYTES (64 * 1024)

char *
nms_extensions_dir (const NmsInstallEnv *env, NmsInstallScope scope)
{
  if (scope == NMS_INSTALL_SYSTEM)
    return g_build_filename (env->root, "etc", "nmstore", "extensions.d", NULL);
  return g_build_filename (env->config_home, "nmstore", "extensions.d", NULL);
}

gboolean
nms_extensions_check_name (const char *name, GError **error)
{
  const char *p;
  gboolean ok = name[0] != '\0' && name[0] != '.' && name[0] != '-' && strlen (name) <= MAX_NAME;

  /* Letters, digits, '.', '-' and '_' only: no '/', so no path can
   * leave the folder, and no leading '.', so no "..". */
  for (p = name; ok && *p != '\0'; p++)
    ok = g_ascii_isalnum (*p) || strchr ("._-", *p) != NULL;
  if (!ok)
    g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST,
                 "\"%s\" is not an extension name: use 1 to %d letters, digits, '.', '-' or '_', "
                 "not starting with '.' or '-' (e.g. the extension's package name)", name, MAX_NAME);
  return ok;
}

void
nms_extension_free (NmsExtension *extension)
{
  if (extension == NULL)
    return;
  g_free (extension->name);
  g_free (extension->path);
  g_strfreev (extension->chromium_ids);
  g_strfreev (extension->firefox_ids);
  g_free (extension->error);
  g_free (extension);
}

/* The 1-based line where key is set, so that an error can point at it. */
static guint
key_line (const char *text, const char *key)
{
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  guint i;

  for (i = 0; lines[i] != NULL; i++)
    {
      const char *line = lines[i] + strspn (lines[i], " \t");
      if (g_str_has_prefix (line, key) && strchr ("= \t", line[strlen (key)]) != NULL)
        return i + 1;
    }
  return 0;
}

static char **
read_ids (GKeyFile *file, const char *text, const char *key, gboolean firefox, GError **error)
{
  g_autoptr(GError) local = NULL;
  g_auto(GStrv) ids = NULL;
  guint i;

  if (!g_key_file_has_key (file, NMS_EXTENSIONS_GROUP, key, NULL))
    return g_new0 (char *, 1);
  ids = g_key_file_get_string_list (file, NMS_EXTENSIONS_GROUP, key, NULL, &local);
  for (i = 0; local == NULL && ids[i] != NULL; i++)
    if (firefox ? !nms_install_check_firefox_id (ids[i], &local) : !nms_install_check_extension_id (ids[i], &local))
      break;
  if (local != NULL)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST, "line %u, %s: %s", key_line (text, key), key,
                   local->message);
      return NULL;
    }
  return g_steal_pointer (&ids);
}

/* Parses one drop-in; any fault refuses the whole file. */
static gboolean
parse (NmsExtension *extension, const char *text, GError **error)
{
  g_autoptr(GKeyFile) file = g_key_file_new ();
  g_auto(GStrv) groups = NULL, keys = NULL;
  guint i;

  if (!g_key_file_load_from_data (file, text, -1, G_KEY_FILE_NONE, error))
    return FALSE;
  groups = g_key_file_get_groups (file, NULL);
  for (i = 0; groups[i] != NULL; i++)
    if (!g_str_equal (groups[i], NMS_EXTENSIONS_GROUP))
      {
        g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST, "unknown group [%s]; the only group is [%s]",
                     groups[i], NMS_EXTENSIONS_GROUP);
        return FALSE;
      }
  keys = g_key_file_get_keys (file, NMS_EXTENSIONS_GROUP, NULL, NULL);
  for (i = 0; keys != NULL && keys[i] != NULL; i++)
    if (!g_str_equal (keys[i], NMS_EXTENSIONS_CHROMIUM_KEY) && !g_str_equal (keys[i], NMS_EXTENSIONS_FIREFOX_KEY))
      {
        g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST, "line %u: unknown key \"%s\"; use %s= or %s=",
                     key_line (text, keys[i]), keys[i], NMS_EXTENSIONS_CHROMIUM_KEY, NMS_EXTENSIONS_FIREFOX_KEY);
        return FALSE;
      }
  if ((extension->chromium_ids = read_ids (file, text, NMS_EXTENSIONS_CHROMIUM_KEY, FALSE, error)) == NULL
      || (extension->firefox_ids = read_ids (file, text, NMS_EXTENSIONS_FIREFOX_KEY, TRUE, error)) == NULL)
    return FALSE;
  if (extension->chromium_ids[0] == NULL && extension->firefox_ids[0] == NULL)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST, "no ids: a [%s] group with %s= or %s= is needed",
                   NMS_EXTENSIONS_GROUP, NMS_EXTENSIONS_CHROMIUM_KEY, NMS_EXTENSIONS_FIREFOX_KEY);
      return FALSE;
    }
  return TRUE;
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static void
load_dir (GPtrArray *out, const NmsInstallEnv *env, NmsInstallScope scope)
{
  g_autofree char *dir = nms_extensions_dir (env, scope);
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *entry;
  guint i;

  while (d != NULL && (entry = g_dir_read_name (d)) != NULL)
    if (g_str_has_suffix (entry, SUFFIX) && entry[0] != '.')
      g_ptr_array_add (names, g_strdup (entry));
  g_ptr_array_sort (names, compare_names);
  for (i = 0; i < names->len; i++)
    {
      NmsExtension *extension = g_new0 (NmsExtension, 1);
      g_autoptr(GError) error = NULL;
      g_autofree char *text = NULL;
      const char *file_name = names->pdata[i];
      gsize length;

      extension->name = g_strndup (file_name, strlen (file_name) - strlen (SUFFIX));
      extension->path = g_build_filename (dir, file_name, NULL);
      extension->scope = scope;
      if (!nms_extensions_check_name (extension->name, &error)
          || !nms_os_read_regular_file (extension->path, MAX_FILE_BYTES, &text, &length, &error)
          || !parse (extension, text, &error))
        {
          extension->error = g_strdup_printf ("%s: %s; this file is ignored until it is fixed (or removed with: "
                                              "nmstore extensions rm %s%s)", extension->path, error->message,
                                              scope == NMS_INSTALL_SYSTEM ? "--system " : "", extension->name);
          g_clear_pointer (&extension->chromium_ids, g_strfreev);
          g_clear_pointer (&extension->firefox_ids, g_strfreev);
        }
      g_ptr_array_add (out, extension);
    }
}

GPtrArray *
nms_extensions_load (const NmsInstallEnv *env)
{
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) nms_extension_free);

  load_dir (out, env, NMS_INSTALL_USER);
  load_dir (out, env, NMS_INSTALL_SYSTEM);
  return out;
}

static void
add_unique (GPtrArray *ids, const char *id)
{
  if (!g_ptr_array_find_with_equal_func (ids, id, g_str_equal, NULL))
    g_ptr_array_add (ids, g_strdup (id));
}

void
nms_extensions_collect_ids (GPtrArray *extensions, GPtrArray *chromium_ids, GPtrArray *firefox_ids)
{
  guint i;
  char **id;

  for (i = 0; i < extensions->len; i++)
    {
      const NmsExtension *extension = extensions->pdata[i];

      if (extension->error != NULL)
        continue;
      for (id = extension->chromium_ids; *id != NULL; id++)
        add_unique (chromium_ids, *id);
      for (id = extension->firefox_ids; *id != NULL; id++)
        add_unique (firefox_ids, *id);
    }
}

/* A system folder: made 0755 where missing; where it exists, used only
 * when no one but its owner (this user, normally root) can write it. */
static gboolean
system_dir (const char *path, GError **error)
{
  struct stat st;

  if (!nms_os_make_public_dir (path, 0755, error))
    return FALSE;
  if (lstat (path, &st) != 0 || !S_ISDIR (st.st_mode) || st.st_uid != geteuid () || (st.st_mode & 022) != 0)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_IO,
                   "refusing %s: it must be a folder (not a link) of uid %u that only its owner can write; "
                   "nmstore does not change a folder it did not make: fix it with chown and chmod 755, or move it away",
                   path, (unsigned) geteuid ());
      return FALSE;
    }
  return TRUE;
}

static gboolean
prepare_dir (const NmsInstallEnv *env, NmsInstallScope scope, GError **error)
{
  g_autofree char *dir = nms_extensions_dir (env, scope);
  g_autofree char *parent = g_path_get_dirname (dir);

  if (scope == NMS_INSTALL_SYSTEM)
    {
      g_autofree char *etc = g_path_get_dirname (parent);
      return (g_file_test (etc, G_FILE_TEST_IS_DIR) || nms_os_make_public_dir (etc, 0755, error))
             && system_dir (parent, error) && system_dir (dir, error);
    }
  return nms_os_make_private_dir (parent, error) && nms_os_make_private_dir (dir, error);
}

static void
append_ids (GString *text, const char *key, const char *const *ids)
{
  if (ids == NULL || ids[0] == NULL)
    return;
  g_string_append_printf (text, "%s=", key);
  for (; *ids != NULL; ids++)
    g_string_append_printf (text, "%s;", *ids);
  g_string_append_c (text, '\n');
}

gboolean
nms_extensions_add (const NmsInstallEnv *env, NmsInstallScope scope, const char *name,
                    const char *const *chromium_ids, const char *const *firefox_ids, GError **error)
{
  g_autoptr(GString) text = g_string_new (NULL);
  g_autofree char *dir = nms_extensions_dir (env, scope);
  g_autofree char *file_name = g_strconcat (name, SUFFIX, NULL);
  g_autofree char *path = g_build_filename (dir, file_name, NULL);
  const char *const *id;

  if (!nms_extensions_check_name (name, error))
    return FALSE;
  for (id = chromium_ids; id != NULL && *id != NULL; id++)
    if (!nms_install_check_extension_id (*id, error))
      return FALSE;
  for (id = firefox_ids; id != NULL && *id != NULL; id++)
    if (!nms_install_check_firefox_id (*id, error))
      return FALSE;
  if ((chromium_ids == NULL || chromium_ids[0] == NULL) && (firefox_ids == NULL || firefox_ids[0] == NULL))
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST,
                   "an extension needs at least one --extension-id or --firefox-id");
      return FALSE;
    }
  g_string_append_printf (text, "# Written by nmstore extensions add; `nmstore install` allows these ids.\n"
                                "[%s]\n", NMS_EXTENSIONS_GROUP);
  append_ids (text, NMS_EXTENSIONS_CHROMIUM_KEY, chromium_ids);
  append_ids (text, NMS_EXTENSIONS_FIREFOX_KEY, firefox_ids);
  return prepare_dir (env, scope, error)
         && nms_os_write_file_atomic (path, text->str, text->len, scope == NMS_INSTALL_SYSTEM ? 0644 : 0600, error);
}

gboolean
nms_extensions_remove (const NmsInstallEnv *env, NmsInstallScope scope, const char *name, GError **error)
{
  g_autofree char *dir = nms_extensions_dir (env, scope);
  g_autofree char *file_name = g_strconcat (name, SUFFIX, NULL);
  g_autofree char *path = g_build_filename (dir, file_name, NULL);
  int errsv;

  if (!nms_extensions_check_name (name, error))
    return FALSE;
  if (g_unlink (path) == 0)
    return TRUE;
  errsv = errno;
  if (errsv == ENOENT)
    g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST, "no extension \"%s\" is registered in %s; "
                 "`nmstore extensions ls` lists them", name, dir);
  else
    g_set_error (error, NMS_ERROR, NMS_ERROR_IO, "cannot remove %s: %s%s", path, g_strerror (errsv),
                 scope == NMS_INSTALL_SYSTEM ? "; the system folder needs root (sudo)" : "");
  return FALSE;
}
