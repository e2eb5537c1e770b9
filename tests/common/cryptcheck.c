/* SPDX-License-Identifier: MIT */
/* cryptcheck.c: the encryption suites' shared helpers (cryptcheck.h). */
#include "cryptcheck.h"
#include "storecheck.h"

#include <stdarg.h>
#include <string.h>

static const char *const markers[] = {
  "NAMEMARKERALPHA", "NAMEMARKERBRAVO", "NAMEMARKERCHARLIE",
  "VALUEMARKERALPHA", "VALUEMARKERDELTA", "VALUEMARKERCHARLIE", "BYTESMARKERBRAVO", "VALUEMARKERECHO", NULL
};

char *
nmt_crypt_make_home (void)
{
  char *home = nmt_make_home ();
  g_autofree char *conf = g_build_filename (home, "nmstore.conf", NULL);
  g_autofree char *log = g_build_filename (home, "nmstore.log", NULL);
  g_autofree char *text = g_strdup_printf ("[crypto]\npad_block = 64\npwhash_opslimit = 1\npwhash_memlimit = 8192\n"
                                           "[log]\nfile = %s\n", log);

  assert_true (g_file_set_contents (conf, text, -1, NULL));
  return home;
}

char *
nmt_crypt_store_path (const char *home)
{
  return g_build_filename (home, "chromium-abcdefghijklmnopabcdefghijklmnop", "store.db", NULL);
}

/* Ends a host the way a browser does, by closing its input. */
void
nmt_crypt_finish (NmtHost *host)
{
  nmt_host_close_input (host);
  assert_int_equal (nmt_host_wait (host), 0);
  nmt_host_free (host);
}

void
nmt_crypt_call_ok (NmtHost *host, const char *json)
{
  cJSON *reply = nmt_host_call (host, json);

  nmt_assert_ok (reply);
  cJSON_Delete (reply);
}

void
nmt_crypt_call_error (NmtHost *host, const char *json, const char *code)
{
  cJSON *reply = nmt_host_call (host, json);

  nmt_assert_error (reply, code);
  cJSON_Delete (reply);
}

/* The JSON text of items[key] in a get reply, or NULL. */
char *
nmt_crypt_get_value (NmtHost *host, const char *key)
{
  g_autofree char *req = g_strdup_printf ("{\"op\":\"get\",\"keys\":\"%s\"}", key);
  cJSON *reply = nmt_host_call (host, req);
  cJSON *item;
  char *text = NULL;

  nmt_assert_ok (reply);
  item = cJSON_GetObjectItemCaseSensitive (cJSON_GetObjectItemCaseSensitive (reply, "items"), key);
  if (item != NULL)
    {
      char *printed = cJSON_PrintUnformatted (item);
      text = g_strdup (printed);
      cJSON_free (printed);
    }
  cJSON_Delete (reply);
  return text;
}

void
nmt_crypt_write_known_items (NmtHost *host)
{
  g_autofree char *b64 = g_base64_encode ((const guint8 *) NMT_BYTES_B, sizeof NMT_BYTES_B - 1);
  g_autofree char *req = g_strdup_printf ("{\"op\":\"set\",\"items\":{\"" NMT_NAME_A "\":" NMT_VALUE_A ",\"" NMT_NAME_B
                                          "\":{\"$bytes\":\"%s\"}}}", b64);
  nmt_crypt_call_ok (host, req);
}

/* What of marker may show in a file: itself, and the middle of its base64
 * form at each of the three alignments it can start at. */
static GPtrArray *
needle_forms (const char *marker)
{
  GPtrArray *forms = g_ptr_array_new_with_free_func (g_free);
  int shift;

  g_ptr_array_add (forms, g_strdup (marker));
  for (shift = 0; shift < 3; shift++)
    {
      g_autofree char *padded = g_strdup_printf ("%.*s%s", shift, "xx", marker);
      g_autofree char *b64 = g_base64_encode ((const guint8 *) padded, strlen (padded));
      gsize len = strlen (b64);
      gsize from = shift ? 4 : 0;

      /* Drop the groups that hold the filler or the marker's ragged end. */
      if (len > from + 8)
        g_ptr_array_add (forms, g_strndup (b64 + from, len - from - 4));
    }
  return forms;
}

/* Every regular file under dir; the first marker form found, or NULL. */
char *
nmt_crypt_find_marker (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_autofree char *data = NULL;
      gsize len = 0;

      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        {
          char *hit = nmt_crypt_find_marker (path);
          if (hit != NULL)
            return hit;
          continue;
        }
      /* The log is ours to write; it names tokens, never keys, but the
       * scan covers it too. */
      if (g_file_get_contents (path, &data, &len, NULL))
        {
          g_autofree char *hit = nmt_crypt_find_marker_in ((const guint8 *) data, len);
          if (hit != NULL)
            return g_strdup_printf ("%s in %s", hit, path);
        }
    }
  return NULL;
}

char *
nmt_crypt_find_marker_in (const guint8 *data, gsize len)
{
  const char *const *m;

  for (m = markers; *m != NULL; m++)
    {
      g_autoptr(GPtrArray) forms = needle_forms (*m);
      guint i;

      for (i = 0; i < forms->len; i++)
        if (nmt_contains (data, len, forms->pdata[i]))
          return g_strdup_printf ("%s (as \"%s\")", *m, (const char *) forms->pdata[i]);
    }
  return NULL;
}

void
nmt_crypt_assert_no_marker (const char *dir)
{
  g_autofree char *hit = nmt_crypt_find_marker (dir);

  if (hit != NULL)
    fail_msg ("plaintext survived: %s", hit);
}

void
nmt_crypt_assert_known_items (NmtHost *host)
{
  g_autofree char *a = nmt_crypt_get_value (host, NMT_NAME_A);
  g_autofree char *b = nmt_crypt_get_value (host, NMT_NAME_B);
  g_autofree char *b64 = g_base64_encode ((const guint8 *) NMT_BYTES_B, sizeof NMT_BYTES_B - 1);
  g_autofree char *want_b = g_strdup_printf ("{\"$bytes\":\"%s\"}", b64);

  assert_string_equal (a, NMT_VALUE_A);
  assert_string_equal (b, want_b);
}


static int
run_cli (const char *home, const char *stdin_text, char **out, char **err_out, const char *first, va_list ap)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  g_autofree char *err = NULL;
  g_autofree char *junk = NULL;
  const char *a;
  int status;

  for (a = first; a != NULL; a = va_arg (ap, const char *))
    g_ptr_array_add (args, (gpointer) a);
  g_ptr_array_add (args, NULL);
  status = nmt_run_cli (home, (const char *const *) args->pdata, stdin_text, out ? out : &junk, &err);
  if (status != 0)
    print_message ("nmstore %s: %s", first, err);
  if (err_out != NULL)
    *err_out = g_steal_pointer (&err);
  return status;
}

int
nmt_crypt_cli (const char *home, const char *stdin_text, char **out, const char *first, ...)
{
  va_list ap;
  int status;

  va_start (ap, first);
  status = run_cli (home, stdin_text, out, NULL, first, ap);
  va_end (ap);
  return status;
}

int
nmt_crypt_cli_err (const char *home, const char *stdin_text, char **out, char **err, const char *first, ...)
{
  va_list ap;
  int status;

  va_start (ap, first);
  status = run_cli (home, stdin_text, out, err, first, ap);
  va_end (ap);
  return status;
}

void
nmt_crypt_tamper (const char *home, const char *sql)
{
  g_autofree char *path = nmt_crypt_store_path (home);

  nmt_store_edit (path, sql, NULL, 0);
}

void
nmt_crypt_encrypted_abc (const char *home)
{
  NmtHost *host;

  nmt_encrypt_origin (home, NMT_ORIGIN);
  host = nmt_host_start (home, NMT_ORIGIN);
  nmt_crypt_call_ok (host, "{\"op\":\"set\",\"items\":{\"a\":\"A\",\"b\":\"B\",\"c\":\"C\"}}");
  nmt_crypt_finish (host);
}
