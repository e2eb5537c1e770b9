/* SPDX-License-Identifier: MIT */
/* os.h: the operating-system seam.
 *
 * Every call that is POSIX-only (or that needs a different spelling on
 * Windows) lives behind this header, so that the rest of nmstore is plain
 * C11 plus GLib and a Windows port touches these three files: os.c (process
 * and stdio), os-stop.c (the stop signals of a thread that waits in read)
 * and os-files.c (private files and folders). One header for all, so that
 * no caller has to know which part a call lives in. */
#pragma once

#include <glib.h>
#include <stdio.h>

G_BEGIN_DECLS

/* Called when fd becomes readable or hangs up; FALSE removes the watch. */
typedef gboolean (*NmsOsInputFunc) (int fd, GIOCondition condition, gpointer user_data);

/* SIGTERM and SIGINT, for a thread that waits in nms_os_read_input: a
 * stop signal runs func on the loop of the thread that made the watch
 * (the thread-default main context), before its other sources, and makes
 * that thread's nms_os_read_input return until func has run. */
typedef struct _NmsOsStopWatch NmsOsStopWatch;

void     nms_os_prepare_stdio        (void);
void     nms_os_private_umask        (void);
gboolean nms_os_read                 (int fd, void *buf, gsize len, gsize *n_read, GError **error);
gboolean nms_os_read_input           (int fd, void *buf, gsize len, gsize *n_read, GError **error);
gboolean nms_os_write_all            (int fd, const void *buf, gsize len, GError **error);
gboolean nms_os_readable_now         (int fd);
gboolean nms_os_make_private_dir     (const char *path, GError **error);
gboolean nms_os_check_private        (const char *path, gboolean is_dir, GError **error);
gboolean nms_os_create_reserve       (const char *path, gsize size, GError **error);
gboolean nms_os_create_private_file  (const char *path, GError **error);
gboolean nms_os_fsync_dir            (const char *path, GError **error);
guint    nms_os_add_input_watch      (int fd, NmsOsInputFunc func, gpointer user_data);
NmsOsStopWatch *nms_os_stop_watch_new (GSourceFunc func, gpointer user_data, GError **error);
gboolean nms_os_stop_watch_fired     (NmsOsStopWatch *watch);
void     nms_os_stop_watch_free      (NmsOsStopWatch *watch);
gboolean nms_os_disable_core_dumps   (GError **error);
int      nms_os_pid                  (void);
guint64  nms_os_process_start_time   (int pid);
gboolean nms_os_process_alive        (int pid, guint64 start_time);
FILE    *nms_os_fopen_private_append (const char *path, GError **error);
guint    nms_os_user_id              (void);
char    *nms_os_executable_path      (void);
int      nms_os_open_private_file    (const char *path, GError **error);
gboolean nms_os_poke_file            (int fd, GError **error);
int      nms_os_open_to_watch        (const char *path, GError **error);
gboolean nms_os_file_unlinked        (int fd);
void     nms_os_close                (int fd);
gboolean nms_os_write_new_private_file (const char *path, const void *data, gsize len, GError **error);
gboolean nms_os_read_private_file    (const char *path, void *buf, gsize size, gsize *n_read, GError **error);
void     nms_os_crash_point          (const char *name);
gboolean nms_os_read_regular_file    (const char *path, gsize max_size, char **contents, gsize *length,
                                      GError **error);
gboolean nms_os_fsync_file           (const char *path, GError **error);
gboolean nms_os_dir_entries_safe     (const char *dir, GError **error);
gboolean nms_os_ensure_free_fds      (guint wanted, GError **error);
gboolean nms_os_write_file_atomic    (const char *path, const void *data, gsize len, int mode, GError **error);
gboolean nms_os_make_public_dir      (const char *path, int mode, GError **error);
gboolean nms_os_read_passphrase      (int fd, const char *prompt, char *buf, gsize size, gsize *len,
                                      GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NmsOsStopWatch, nms_os_stop_watch_free)

G_END_DECLS
