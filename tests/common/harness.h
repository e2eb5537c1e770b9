/* harness.h: what the test suites share: temporary data roots, and real
 * nmstore processes driven over real pipes, frame by frame. */
#pragma once

#include <cjson/cJSON.h>
#include <gio/gio.h>
#include <glib.h>

/* cmocka needs these before its header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#define NMT_ORIGIN "chrome-extension://abcdefghijklmnopabcdefghijklmnop/"
#define NMT_ORIGIN_2 "chrome-extension://ponmlkjihgfedcbaponmlkjihgfedcba/"

/* Set NMT_HOST_WRAPPER to a command line (e.g. "valgrind --error-exitcode=99
 * ...") to run every nmstore the harness starts under it. A wrapped process
 * that exits with NMT_WRAPPER_ERROR_STATUS fails the test that started it. */
#define NMT_WRAPPER_ERROR_STATUS 99

typedef struct {
  GSubprocess   *proc;
  GOutputStream *in;   /* the host's stdin */
  GInputStream  *out;  /* the host's stdout */
  gboolean       killed; /* ended by the test with SIGKILL on purpose */
} NmtHost;

/* Runs in the child between fork and exec (rlimits, signal dispositions). */
typedef void (*NmtChildSetup) (gpointer user_data);

char     *nmt_make_home       (void);
void      nmt_remove_tree     (const char *path);
NmtHost  *nmt_host_start      (const char *home, const char *origin);
NmtHost  *nmt_host_start_argv (const char *home, const char *const *args, const char *const *extra_env);
NmtHost  *nmt_host_start_full (const char *home, const char *const *args, const char *const *extra_env,
                               NmtChildSetup setup, gpointer setup_data);
int       nmt_host_pid        (NmtHost *host);
gboolean  nmt_host_wrapped    (void);
gboolean  nmt_host_send       (NmtHost *host, const char *json);
gboolean  nmt_host_send_raw   (NmtHost *host, const void *data, gsize len);
gboolean  nmt_host_send_frame (NmtHost *host, const void *data, gsize len);
char     *nmt_host_recv_frame (NmtHost *host, gsize *len);
cJSON    *nmt_host_recv       (NmtHost *host);
cJSON    *nmt_host_call       (NmtHost *host, const char *json);
void      nmt_host_close_input(NmtHost *host);
int       nmt_host_wait       (NmtHost *host);
void      nmt_host_kill       (NmtHost *host);
void      nmt_host_free       (NmtHost *host);
/* A /proc/PID/status field in KiB ("VmHWM", "VmRSS"); -1 when absent. */
gint64    nmt_proc_status_kib (int pid, const char *field);
int       nmt_run_cli         (const char *home, const char *const *args, const char *stdin_text,
                               char **out, char **err);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NmtHost, nmt_host_free)

/* Asserts a reply's ok and, for failures, its error code. */
void      nmt_assert_ok       (const cJSON *reply);
void      nmt_assert_error    (const cJSON *reply, const char *code);
