/* SPDX-License-Identifier: MIT */
/* doctor-data.c: the doctor's checks of what the host keeps: the data
 * root (there, private, this user's), the free disk space under it, and
 * the integrity of every store. */
#include "doctor-private.h"
#include "doctor-report.h"

#include "base/os.h"
#include "store/store.h"

#include <gio/gio.h>

/* Below this the store's next checkpoint may fail; below the warning
 * level a large session restore may. */
#define FREE_FAIL_BYTES (16u * 1024 * 1024)
#define FREE_WARN_BYTES (256u * 1024 * 1024)

static guint32
file_mode (GFileInfo *info)
{
  return g_file_info_get_attribute_uint32 (info, G_FILE_ATTRIBUTE_UNIX_MODE) & 07777;
}

/* The nearest folder at or above path that exists. */
static GFile *
existing_ancestor (const char *path)
{
  GFile *file = g_file_new_for_path (path);

  while (!g_file_query_exists (file, NULL))
    {
      GFile *parent = g_file_get_parent (file);
      if (parent == NULL)
        break;
      g_object_unref (file);
      file = parent;
    }
  return file;
}

void
_nms_doctor_check_data_root (NmsDoctorReport *report, const char *root)
{
  g_autoptr(GFile) file = g_file_new_for_path (root);
  g_autoptr(GFileInfo) info = g_file_query_info (file, "standard::type,unix::mode,unix::uid,access::can-write",
                                                 G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, NULL, NULL);
  g_autoptr(GFile) near = NULL;
  g_autoptr(GFileInfo) fs = NULL;
  g_autofree char *size = NULL;
  guint64 free_bytes;

  if (info == NULL)
    {
      g_autoptr(GFileInfo) parent = NULL;
      g_autofree char *near_path = NULL;

      near = existing_ancestor (root);
      near_path = g_file_get_path (near);
      parent = g_file_query_info (near, "access::can-write", G_FILE_QUERY_INFO_NONE, NULL, NULL);
      if (parent != NULL && g_file_info_get_attribute_boolean (parent, "access::can-write"))
        _nms_doctor_add (report, NULL, "data-root", NMS_DOCTOR_OK, NULL, "%s does not exist yet; the host creates it", root);
      else
        _nms_doctor_add (report, NULL, "data-root", NMS_DOCTOR_FAIL,
                         g_strdup_printf ("make %s writable for this user, or set NMSTORE_HOME to a folder that is", near_path),
                         "%s does not exist and %s is not writable, so the host cannot create it", root, near_path);
    }
  else if (g_file_info_get_file_type (info) == G_FILE_TYPE_SYMBOLIC_LINK)
    _nms_doctor_add (report, NULL, "data-root", NMS_DOCTOR_FAIL,
                     g_strdup ("set NMSTORE_HOME to the folder the link points at, or replace the link with a folder"),
                     "%s is a symbolic link; the host does not follow links for its folders and refuses it", root);
  else if (g_file_info_get_file_type (info) != G_FILE_TYPE_DIRECTORY)
    _nms_doctor_add (report, NULL, "data-root", NMS_DOCTOR_FAIL,
                     g_strdup_printf ("move %s out of the way, or set NMSTORE_HOME to another folder", root),
                     "%s is not a folder", root);
  else if (g_file_info_get_attribute_uint32 (info, G_FILE_ATTRIBUTE_UNIX_UID) != nms_os_user_id ())
    _nms_doctor_add (report, NULL, "data-root", NMS_DOCTOR_FAIL,
                     g_strdup_printf ("run: sudo chown -R %u %s", nms_os_user_id (), root),
                     "%s belongs to uid %u, not to this user (uid %u)", root,
                     g_file_info_get_attribute_uint32 (info, G_FILE_ATTRIBUTE_UNIX_UID), nms_os_user_id ());
  else if ((file_mode (info) & 0700) != 0700 || !g_file_info_get_attribute_boolean (info, "access::can-write"))
    _nms_doctor_add (report, NULL, "data-root", NMS_DOCTOR_FAIL, g_strdup_printf ("run: chmod 700 %s", root),
                     "%s is not writable (mode %04o): the host cannot save anything", root, file_mode (info));
  else if ((file_mode (info) & 077) != 0)
    _nms_doctor_add (report, NULL, "data-root", NMS_DOCTOR_FAIL,
                     g_strdup_printf ("if the folder is yours alone, run: chmod 700 %s", root),
                     "%s is open to other users (mode %04o); the host refuses a data root looser than 0700", root,
                     file_mode (info));
  else
    _nms_doctor_add (report, NULL, "data-root", NMS_DOCTOR_OK, NULL, "%s is a private folder (0700) of this user", root);

  if (near == NULL)
    near = existing_ancestor (root);
  fs = g_file_query_filesystem_info (near, G_FILE_ATTRIBUTE_FILESYSTEM_FREE, NULL, NULL);
  if (fs == NULL || !g_file_info_has_attribute (fs, G_FILE_ATTRIBUTE_FILESYSTEM_FREE))
    {
      _nms_doctor_add (report, NULL, "disk-space", NMS_DOCTOR_WARN, g_strdup ("check the free space with: df -h"),
                       "cannot tell how much space is free under %s", root);
      return;
    }
  free_bytes = g_file_info_get_attribute_uint64 (fs, G_FILE_ATTRIBUTE_FILESYSTEM_FREE);
  size = g_format_size (free_bytes);
  if (free_bytes < FREE_FAIL_BYTES)
    _nms_doctor_add (report, NULL, "disk-space", NMS_DOCTOR_FAIL, g_strdup ("free some disk space; writes fail with E_IO"),
                     "only %s free under %s", size, root);
  else if (free_bytes < FREE_WARN_BYTES)
    _nms_doctor_add (report, NULL, "disk-space", NMS_DOCTOR_WARN, g_strdup ("free some disk space before large writes"),
                     "%s free under %s", size, root);
  else
    _nms_doctor_add (report, NULL, "disk-space", NMS_DOCTOR_OK, NULL, "%s free under %s", size, root);
}

void
_nms_doctor_check_stores (NmsDoctorReport *report, const char *root)
{
  g_autoptr(GDir) dir = g_dir_open (root, 0, NULL);
  const char *name;
  guint n = 0;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *store_dir = g_build_filename (root, name, NULL);
      g_autofree char *db = g_build_filename (store_dir, NMS_STORE_FILE_NAME, NULL);
      g_autoptr(NmsStore) store = NULL;
      g_autoptr(GError) error = NULL;

      if (!g_file_test (db, G_FILE_TEST_IS_REGULAR))
        continue;
      n++;
      if ((store = nms_store_open (store_dir, NULL, NULL, &error)) == NULL
          || !nms_store_check_integrity (store, &error))
        _nms_doctor_add (report, NULL, "store", NMS_DOCTOR_FAIL,
                         g_strdup_printf ("close the browser, copy %s away, then restore a backup or run: "
                                          "sqlite3 %s .recover | sqlite3 %s.recovered", store_dir, db, db),
                         "%s", error->message);
      else
        _nms_doctor_add (report, NULL, "store", NMS_DOCTOR_OK, NULL, "%s passed SQLite's integrity check", db);
    }
  if (n == 0)
    _nms_doctor_add (report, NULL, "store", NMS_DOCTOR_OK, NULL, "no stores yet under %s", root);
}
