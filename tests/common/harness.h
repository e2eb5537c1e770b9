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

typedef struct {
  GSubprocess   *proc;
  GOutputStream *in;   /* the host's stdin */
  GInputStream  *out;  /* the host's stdout */
} NmtHost;

char     *nmt_make_home       (void);
void      nmt_remove_tree     (const char *path);
NmtHost  *nmt_host_start      (const char *home, const char *origin);
NmtHost  *nmt_host_start_argv (const char *home, const char *const *args, const char *const *extra_env);
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
int       nmt_host_pid        (NmtHost *host);
gboolean  nmt_host_readable   (NmtHost *host, int timeout_ms);
int       nmt_run_cli         (const char *home, const char *const *args, const char *stdin_text,
                               char **out, char **err);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NmtHost, nmt_host_free)

/* Asserts a reply's ok and, for failures, its error code. */
void      nmt_assert_ok       (const cJSON *reply);
void      nmt_assert_error    (const cJSON *reply, const char *code);
