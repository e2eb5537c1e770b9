/* SPDX-License-Identifier: MIT */
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

/* The largest message a browser accepts from a host (maxResponseBytes). */
#define NMT_MAX_MESSAGE_BYTES (1024 * 1024)

/* Set NMT_HOST_WRAPPER to a command line (e.g. "valgrind --error-exitcode=99
 * ...") to run every nmstore the harness starts under it. A wrapped process
 * that exits with NMT_WRAPPER_ERROR_STATUS fails the test that started it. */
#define NMT_WRAPPER_ERROR_STATUS 99

/* A private HOME and system root (private-home.c): top is a new temporary
 * folder; its home/ is HOME, with XDG_CONFIG_HOME unset, and its root/ is
 * NMSTORE_SYSTEM_ROOT; data/ is the path of a data root, left for nmstore
 * to make. _clear removes top and everything in it. _setup and _teardown
 * are the same as a cmocka fixture whose state is the NmtPrivateHome. */
typedef struct {
  char *top;
  char *home;
  char *root;
  char *data;
} NmtPrivateHome;

void nmt_private_home_make     (NmtPrivateHome *place);
void nmt_private_home_clear    (NmtPrivateHome *place);
int  nmt_private_home_setup    (void **state);
int  nmt_private_home_teardown (void **state);

typedef struct {
  GSubprocess   *proc;
  GOutputStream *in;   /* the host's stdin */
  GInputStream  *out;  /* the host's stdout */
  gboolean       killed; /* ended by the test with SIGKILL on purpose */
} NmtHost;

/* What nmt_host_start_full can change about a host's process. */
typedef struct {
  const char *const   *extra_env;   /* NAME, VALUE, ..., NULL */
  const char          *stderr_path; /* NULL: the test's own stderr */
  GSpawnChildSetupFunc child_setup; /* runs in the child before exec (rlimits, signal dispositions) */
  gpointer             child_setup_data;
} NmtHostOptions;

char     *nmt_make_home       (void);
void      nmt_remove_tree     (const char *path);
NmtHost  *nmt_host_start      (const char *home, const char *origin);
void      nmt_encrypt_origin  (const char *home, const char *origin);
void      nmt_encrypt_origin_passphrase (const char *home, const char *origin);
void      nmt_host_unlock_suite (NmtHost *host);
NmtHost  *nmt_host_start_argv (const char *home, const char *const *args, const char *const *extra_env);
NmtHost  *nmt_host_start_full (const char *home, const char *const *args, const NmtHostOptions *options);
gboolean  nmt_host_wrapped    (void);
gboolean  nmt_host_send       (NmtHost *host, const char *json);
gboolean  nmt_host_send_raw   (NmtHost *host, const void *data, gsize len);
gboolean  nmt_host_send_frame (NmtHost *host, const void *data, gsize len);
char     *nmt_host_recv_frame (NmtHost *host, gsize *len);
char     *nmt_host_recv_text  (NmtHost *host, gsize *len, guint *n_frames);
cJSON    *nmt_host_recv       (NmtHost *host);
cJSON    *nmt_host_call       (NmtHost *host, const char *json);
void      nmt_host_call_ok    (NmtHost *host, const char *json);
void      nmt_host_call_error (NmtHost *host, const char *json, const char *code);
void      nmt_host_close_input(NmtHost *host);
void      nmt_host_signal     (NmtHost *host, int signum);
int       nmt_host_wait       (NmtHost *host);
void      nmt_host_kill       (NmtHost *host);
void      nmt_host_free       (NmtHost *host);
int       nmt_host_pid        (NmtHost *host);
gboolean  nmt_host_readable   (NmtHost *host, int timeout_ms);
/* A /proc/PID/status field in KiB ("VmHWM", "VmRSS"); -1 when absent. */
gint64    nmt_proc_status_kib (int pid, const char *field);
int       nmt_run_cli         (const char *home, const char *const *args, const char *stdin_text,
                               char **out, char **err);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NmtHost, nmt_host_free)

/* A cmocka fixture: a fresh data root and one host on NMT_ORIGIN. The
 * teardown closes the host's input and fails unless it exits 0, so a host
 * that crashed during a test fails that test; a test that ends the host
 * itself frees it and sets host to NULL. */
typedef struct {
  char    *home;
  NmtHost *host;
} NmtFixture;

int       nmt_fixture_setup   (void **state);
int       nmt_fixture_teardown(void **state);

/* Appends one frame to out, for pipelining several requests in one write. */
void      nmt_frame_append    (GByteArray *out, const void *data, gsize len);
void      nmt_frame_append_str(GByteArray *out, const char *json);

/* Asserts a reply's ok and, for failures, its error code. */
void      nmt_assert_ok       (const cJSON *reply);
void      nmt_assert_error    (const cJSON *reply, const char *code);
/* Asserts that actual is the same JSON value as the text expected. */
void      nmt_assert_json     (const cJSON *actual, const char *expected);
void      nmt_assert_items    (NmtHost *host, const char *expected);
/* A member that must be there. */
cJSON    *nmt_member          (const cJSON *object, const char *name);

void      nmt_write_file      (const char *path, const char *contents);
/* Whether needle's bytes (without its NUL) occur anywhere in hay. */
gboolean  nmt_contains        (const void *hay, gsize len, const char *needle);
/* $home/nmstore.conf with the given text. */
void      nmt_write_config    (const char *home, const char *contents);
