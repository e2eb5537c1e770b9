/* SPDX-License-Identifier: MIT */
/* test_hostile.c: a table of malformed frames and requests, each with the
 * error code it must get, against one real host that must keep serving.
 *
 * Rows whose stream stays in sync (the frame length was honest) all go to
 * one host; after each, a probe reads back a sentinel item, so a row that
 * broke the host, desynchronised the stream or damaged the store fails
 * right there. Rows that break the framing itself (impossible lengths, cut
 * headers) each get a host of their own, which must answer what it can and
 * exit 1 without a crash. To cover a new op, add its parameters to
 * param_rows[]; to add a hand-written case, add a row to text_rows[]. */
#include "harness.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

typedef struct {
  const char *name;
  const char *body;      /* the frame body; NULL: built by make() */
  gsize       len;       /* 0: strlen (body) */
  const char *code;      /* expected error code; NULL: must succeed */
  const char *id_json;   /* expected id in the reply; NULL: not checked */
} Row;

#define S(lit) lit, sizeof (lit) - 1

static const Row text_rows[] = {
  { "empty frame (length 0)", S (""), "E_JSON", "null" },
  { "length 1, one brace", S ("{"), "E_JSON", "null" },
  { "length 1, one space", S (" "), "E_JSON", "null" },
  { "length 1, a digit", S ("7"), "E_REQUEST", "null" },
  { "byte 0xFF", S ("{\"id\":1,\"op\":\"hello\",\"x\":\"\xff\"}"), "E_JSON", "null" },
  { "overlong '/' (C0 AF)", S ("{\"id\":1,\"op\":\"set\",\"items\":{\"a\xc0\xaf\":1}}"), "E_JSON", "null" },
  { "overlong NUL (C0 80)", S ("{\"id\":1,\"op\":\"set\",\"items\":{\"a\":\"\xc0\x80\"}}"), "E_JSON", "null" },
  { "overlong 3-byte (E0 80 AF)", S ("{\"id\":1,\"op\":\"hello\",\"x\":\"\xe0\x80\xaf\"}"), "E_JSON", "null" },
  { "UTF-8 encoded surrogate (ED A0 80)", S ("{\"id\":1,\"op\":\"hello\",\"x\":\"\xed\xa0\x80\"}"), "E_JSON", "null" },
  { "code point above U+10FFFF", S ("{\"id\":1,\"op\":\"hello\",\"x\":\"\xf4\x90\x80\x80\"}"), "E_JSON", "null" },
  { "truncated multibyte at the end", S ("{\"id\":1,\"op\":\"hello\"}\xe2\x82"), "E_JSON", "null" },
  { "lone continuation byte", S ("{\"id\":1,\"op\":\"hello\",\"\x80\":1}"), "E_JSON", "null" },
  { "raw NUL inside a string", S ("{\"id\":1,\"op\":\"set\",\"items\":{\"a\":\"x\0y\"}}"), "E_JSON", "null" },
  { "raw NUL after the JSON", S ("{\"id\":1,\"op\":\"hello\"}\0"), "E_JSON", "null" },
  { "NUL only", S ("\0"), "E_JSON", "null" },
  { "escaped NUL in a key", S ("{\"id\":1,\"op\":\"set\",\"items\":{\"a\\u0000b\":1}}"), "E_KEY", "1" },
  { "escaped NUL in a value", S ("{\"id\":1,\"op\":\"set\",\"items\":{\"nul\":\"a\\u0000b\"}}"), NULL, "1" },
  { "escaped NUL and U+FFFF together", S ("{\"id\":1,\"op\":\"set\",\"items\":{\"n\":\"\\u0000\\uffff\"}}"), NULL, "1" },
  /* Stored as U+FFFD, as Chrome stores it. */
  { "lone surrogate escape", S ("{\"id\":1,\"op\":\"set\",\"items\":{\"s\":\"\\ud800\"}}"), NULL, "1" },
  { "lone low surrogate escape in a key", S ("{\"id\":1,\"op\":\"set\",\"items\":{\"\\udc00\":1}}"), NULL, "1" },
  { "bad escape", S ("{\"id\":1,\"op\":\"hello\",\"x\":\"\\q\"}"), "E_JSON", "null" },
  { "truncated JSON", S ("{\"id\":1,\"op\":\"hel"), "E_JSON", "null" },
  { "two JSON values", S ("{\"op\":\"hello\"}{\"op\":\"hello\"}"), "E_JSON", "null" },
  { "trailing comma", S ("{\"id\":1,\"op\":\"hello\",}"), "E_JSON", "null" },
  { "single quotes", S ("{'op':'hello'}"), "E_JSON", "null" },
  { "huge number as a value", S ("{\"id\":1,\"op\":\"set\",\"items\":{\"big\":1e400}}"), NULL, "1" },
  { "huge negative exponent", S ("{\"id\":1,\"op\":\"set\",\"items\":{\"tiny\":1e-400}}"), NULL, "1" },
  { "huge number as an id", S ("{\"id\":1e999,\"op\":\"hello\"}"), NULL, NULL },
  { "NaN literal", S ("{\"id\":1,\"op\":\"set\",\"items\":{\"n\":NaN}}"), "E_JSON", "null" },
  { "Infinity literal", S ("{\"id\":1,\"op\":\"set\",\"items\":{\"n\":Infinity}}"), "E_JSON", "null" },
  { "duplicate op", S ("{\"id\":1,\"op\":\"hello\",\"op\":\"clear\"}"), "E_REQUEST", NULL },
  { "duplicate id", S ("{\"id\":1,\"id\":2,\"op\":\"hello\"}"), "E_REQUEST", NULL },
  { "duplicate key in items", S ("{\"id\":1,\"op\":\"set\",\"items\":{\"a\":1,\"a\":2}}"), "E_REQUEST", "1" },
  { "__proto__ as a key", S ("{\"id\":1,\"op\":\"set\",\"items\":{\"__proto__\":{\"polluted\":true}}}"), NULL, "1" },
  { "constructor as a key", S ("{\"id\":1,\"op\":\"set\",\"items\":{\"constructor\":1,\"prototype\":2}}"), NULL, "1" },
  { "__proto__ as a member", S ("{\"id\":1,\"op\":\"hello\",\"__proto__\":{\"op\":\"clear\"}}"), NULL, "1" },
  { "__proto__ as an op", S ("{\"id\":1,\"op\":\"__proto__\"}"), "E_UNKNOWN_OP", "1" },
  { "op toString", S ("{\"id\":1,\"op\":\"toString\"}"), "E_UNKNOWN_OP", "1" },
  { "empty op", S ("{\"id\":1,\"op\":\"\"}"), "E_UNKNOWN_OP", "1" },
  { "op in the wrong case", S ("{\"id\":1,\"op\":\"HELLO\"}"), "E_UNKNOWN_OP", "1" },
  { "op missing", S ("{\"id\":1}"), "E_REQUEST", "1" },
  { "op a number", S ("{\"id\":1,\"op\":1}"), "E_REQUEST", "1" },
  { "op null", S ("{\"id\":1,\"op\":null}"), "E_REQUEST", "1" },
  { "op an array", S ("{\"id\":1,\"op\":[\"hello\"]}"), "E_REQUEST", "1" },
  { "request an array", S ("[{\"op\":\"hello\"}]"), "E_REQUEST", "null" },
  { "request a string", S ("\"hello\""), "E_REQUEST", "null" },
  { "request null", S ("null"), "E_REQUEST", "null" },
  { "request true", S ("true"), "E_REQUEST", "null" },
  { "id a string", S ("{\"id\":\"x\\\"y\",\"op\":\"hello\"}"), NULL, "\"x\\\"y\"" },
  { "id a negative fraction", S ("{\"id\":-1.5,\"op\":\"hello\"}"), NULL, "-1.5" },
  { "id null", S ("{\"id\":null,\"op\":\"hello\"}"), NULL, "null" },
  { "id true", S ("{\"id\":true,\"op\":\"hello\"}"), "E_REQUEST", "null" },
  { "id false", S ("{\"id\":false,\"op\":\"hello\"}"), "E_REQUEST", "null" },
  { "id an array", S ("{\"id\":[1],\"op\":\"hello\"}"), "E_REQUEST", "null" },
  { "id an object", S ("{\"id\":{\"a\":1},\"op\":\"hello\"}"), "E_REQUEST", "null" },
  { "id with an escaped NUL", S ("{\"id\":\"a\\u0000\",\"op\":\"hello\"}"), NULL, "\"a\\u0000\"" },
  /* The empty key is a key, and a $bytes look-alike is an object, as in
   * chrome.storage. */
  { "empty key", S ("{\"id\":1,\"op\":\"set\",\"items\":{\"\":1}}"), NULL, "1" },
  { "empty key in remove", S ("{\"id\":1,\"op\":\"remove\",\"keys\":[\"a\",\"\"]}"), NULL, "1" },
  { "bytes not base64", S ("{\"id\":1,\"op\":\"set\",\"items\":{\"b\":{\"$bytes\":\"!!!!\"}}}"), NULL, "1" },
  { "bytes unpadded", S ("{\"id\":1,\"op\":\"set\",\"items\":{\"b\":{\"$bytes\":\"YWI\"}}}"), NULL, "1" },
  { "escaped NUL in a key beside U+FFFF", S ("{\"id\":1,\"op\":\"set\",\"items\":{\"\\uffff\\u0000\":1}}"), "E_KEY", "1" },
  { "bytes a number", S ("{\"id\":1,\"op\":\"set\",\"items\":{\"b\":{\"$bytes\":5}}}"), NULL, "1" },
  /* Values are read from their text, strictly (json-scan.c). */
  { "a number with a leading zero", S ("{\"id\":1,\"op\":\"set\",\"items\":{\"k\":01}}"), "E_JSON", "null" },
  { "a trailing comma in a value", S ("{\"id\":1,\"op\":\"set\",\"items\":{\"k\":[1,2,]}}"), "E_JSON", "null" },
  { "a member twice inside a value", S ("{\"id\":1,\"op\":\"set\",\"items\":{\"k\":{\"a\":1,\"a\":2}}}"), "E_REQUEST", "1" },
  { "items named twice", S ("{\"id\":1,\"op\":\"set\",\"items\":{\"k\":1},\"items\":{\"j\":2}}"), "E_REQUEST", "null" },
  { "items an array", S ("{\"id\":1,\"op\":\"set\",\"items\":[[\"k\",1]]}"), "E_REQUEST", "1" },
  { "a raw control character in a value", S ("{\"id\":1,\"op\":\"set\",\"items\":{\"k\":\"a\tb\"}}"), "E_JSON", "null" },
  { "get with keys and prefix", S ("{\"id\":1,\"op\":\"get\",\"keys\":\"a\",\"prefix\":\"a\"}"), "E_REQUEST", "1" },
};

/* Every parameter of every op, with the JSON types it accepts. */
typedef struct {
  const char *op;
  const char *param;
  const char *accepts;  /* letters: n null, s string, a array of strings, o object */
} ParamRow;

static const ParamRow param_rows[] = {
  { "get", "keys", "nsao" },
  { "get", "prefix", "ns" },
  { "getKeys", "prefix", "ns" },
  { "set", "items", "o" },
  { "remove", "keys", "sa" },
  { "clear", "prefix", "ns" },  /* null (clear everything) is not sent: see below */
  { "getBytesInUse", "keys", "nsa" },
  { "sessionRestore", "prefix", "ns" },
  { "sessionSummary", "prefix", "ns" },
  { "sessionMigrate", "prefix", "ns" },
  { "sessionCheck", "prefix", "ns" },
  { "sessionRemoveTorrent", "prefix", "" },  /* needs an infoHash too: every type is wrong without one */
};

typedef struct {
  const char *json;
  char        letter;  /* which accepts[] letter it is, '-' for never valid */
} WrongValue;

static const WrongValue param_values[] = {
  { "null", 'n' }, { "\"zz-none\"", 's' }, { "[\"zz-none\"]", 'a' }, { "{\"zz-none\":1}", 'o' },
  { "0", '-' }, { "-1e308", '-' }, { "true", '-' }, { "false", '-' }, { "[1]", '-' },
  { "[null]", '-' }, { "[[\"a\"]]", '-' }, { "[{}]", '-' },
};

typedef struct {
  char    *home;
  NmtHost *host;
  guint    rejected;   /* malformed inputs answered with their error */
  guint    accepted;   /* odd but valid inputs answered ok */
} Fixture;

/* Checks the reply's raw text, so that the echoed id is compared byte for
 * byte (cJSON would cut a string at an escaped NUL). */
static void
expect_reply (const char *frame, const Row *row)
{
  cJSON *reply;

  if (frame == NULL)
    fail_msg ("row \"%s\": the host sent no reply (it ended)", row->name);
  if (row->id_json != NULL)
    {
      g_autofree char *head = g_strdup_printf ("{\"id\":%s,", row->id_json);
      if (!g_str_has_prefix (frame, head))
        fail_msg ("row \"%s\": expected a reply starting %s, got %.200s", row->name, head, frame);
    }
  reply = cJSON_Parse (frame);
  if (reply == NULL)
    fail_msg ("row \"%s\": the reply is not JSON: %.200s", row->name, frame);
  if (row->code == NULL)
    {
      if (!cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (reply, "ok")))
        fail_msg ("row \"%s\": expected ok, got %.300s", row->name, frame);
    }
  else
    {
      const cJSON *err = cJSON_GetObjectItemCaseSensitive (reply, "error");
      const cJSON *code = cJSON_GetObjectItemCaseSensitive (err, "code");
      const cJSON *msg = cJSON_GetObjectItemCaseSensitive (err, "message");
      if (!cJSON_IsString (code) || strcmp (code->valuestring, row->code) != 0
          || !cJSON_IsString (msg) || strlen (msg->valuestring) < 10)
        fail_msg ("row \"%s\": expected %s with a message, got %.300s", row->name, row->code, frame);
    }
  cJSON_Delete (reply);
}

/* Sends the row and, pipelined behind it, a probe that must find the
 * sentinel intact: the stream is still in sync and the store undamaged. */
static void
run_row (Fixture *f, const Row *row)
{
  gsize len = row->len ? row->len : strlen (row->body);
  g_autofree char *reply = NULL;
  cJSON *probe;

  assert_true (nmt_host_send_frame (f->host, row->body, len));
  assert_true (nmt_host_send (f->host, "{\"id\":\"probe\",\"op\":\"get\",\"keys\":\"sentinel\"}"));
  reply = nmt_host_recv_frame (f->host, NULL);
  expect_reply (reply, row);
  probe = nmt_host_recv (f->host);
  if (probe == NULL)
    fail_msg ("row \"%s\": the host stopped serving after it", row->name);
  {
    const cJSON *items = cJSON_GetObjectItemCaseSensitive (probe, "items");
    const cJSON *s = cJSON_GetObjectItemCaseSensitive (items, "sentinel");
    if (!cJSON_IsString (s) || strcmp (s->valuestring, "intact") != 0)
      fail_msg ("row \"%s\": the probe after it got %s", row->name, cJSON_PrintUnformatted (probe));
  }
  if (row->code != NULL)
    f->rejected++;
  else
    f->accepted++;
  cJSON_Delete (probe);
}

static int
setup (void **state)
{
  Fixture *f = g_new0 (Fixture, 1);
  cJSON *r;

  f->home = nmt_make_home ();
  f->host = nmt_host_start (f->home, NMT_ORIGIN);
  r = nmt_host_call (f->host, "{\"id\":0,\"op\":\"set\",\"items\":{\"sentinel\":\"intact\"}}");
  nmt_assert_ok (r);
  cJSON_Delete (r);
  *state = f;
  return 0;
}

static int
teardown (void **state)
{
  Fixture *f = *state;

  nmt_host_close_input (f->host);
  assert_int_equal (nmt_host_wait (f->host), 0);
  nmt_host_free (f->host);
  nmt_remove_tree (f->home);
  g_free (f->home);
  g_free (f);
  return 0;
}

static void
test_text_rows (void **state)
{
  Fixture *f = *state;

  for (gsize i = 0; i < G_N_ELEMENTS (text_rows); i++)
    run_row (f, &text_rows[i]);
  print_message ("hostile: %u hand-written rows rejected, %u accepted as valid\n", f->rejected, f->accepted);
}

static void
test_every_param_type (void **state)
{
  Fixture *f = *state;
  guint before = f->rejected;

  for (gsize p = 0; p < G_N_ELEMENTS (param_rows); p++)
    for (gsize v = 0; v < G_N_ELEMENTS (param_values); v++)
      {
        const ParamRow *pr = &param_rows[p];
        const WrongValue *wv = &param_values[v];
        gboolean valid = wv->letter != '-' && strchr (pr->accepts, wv->letter) != NULL;

        /* It would wipe the sentinel the probes check; it is valid anyway. */
        if (g_str_equal (pr->op, "clear") && wv->letter == 'n')
          continue;
        g_autofree char *body = g_strdup_printf ("{\"id\":9,\"op\":\"%s\",\"%s\":%s}", pr->op, pr->param, wv->json);
        g_autofree char *name = g_strdup_printf ("%s with %s = %s", pr->op, pr->param, wv->json);
        Row row = { name, body, 0, valid ? NULL : "E_REQUEST", "9" };

        run_row (f, &row);
      }
  print_message ("hostile: %u wrong parameter types rejected\n", f->rejected - before);
}

/* Deep nesting must be refused by the parser's limit, not by the stack. */
static void
test_deep_nesting (void **state)
{
  Fixture *f = *state;
  const char *shapes[][2] = { { "[", "]" }, { "{\"a\":", "}" } };

  for (gsize s = 0; s < G_N_ELEMENTS (shapes); s++)
    {
      g_autoptr(GString) body = g_string_new ("{\"id\":1,\"op\":\"set\",\"items\":{\"deep\":");
      for (int i = 0; i < 10000; i++)
        g_string_append (body, shapes[s][0]);
      for (int i = 0; i < 10000; i++)
        g_string_append (body, shapes[s][1]);
      g_string_append (body, "}}");
      Row row = { s == 0 ? "arrays nested 10,000 deep" : "objects nested 10,000 deep",
                  body->str, body->len, "E_JSON", "null" };
      run_row (f, &row);
    }
  {
    /* Unbalanced: 10,000 openers and nothing else. */
    g_autofree char *opens = g_strnfill (10000, '[');
    Row row = { "10,000 unclosed brackets", opens, 0, "E_JSON", "null" };
    run_row (f, &row);
  }
}

static void
test_huge_members (void **state)
{
  Fixture *f = *state;
  g_autofree char *mib = g_strnfill (1024 * 1024, 'k');
  g_autofree char *at_limit = g_strnfill (8192, 'k');
  g_autofree char *over_limit = g_strnfill (8193, 'k');
  g_autofree char *digits = g_strnfill (100000, '9');
  /* head + arg + tail is the request. */
  struct { const char *name, *head, *arg, *tail, *code; } cases[] = {
    { "key of 1 MiB in set", "{\"id\":1,\"op\":\"set\",\"items\":{\"", mib, "\":1}}", "E_KEY" },
    { "key of 1 MiB in get", "{\"id\":1,\"op\":\"get\",\"keys\":[\"", mib, "\"]}", "E_KEY" },
    { "key of 1 MiB in remove", "{\"id\":1,\"op\":\"remove\",\"keys\":\"", mib, "\"}", "E_KEY" },
    { "prefix of 1 MiB", "{\"id\":1,\"op\":\"getKeys\",\"prefix\":\"", mib, "\"}", "E_KEY" },
    { "key of 8193 bytes", "{\"id\":1,\"op\":\"set\",\"items\":{\"", over_limit, "\":1}}", "E_KEY" },
    { "key of exactly 8192 bytes", "{\"id\":1,\"op\":\"set\",\"items\":{\"", at_limit, "\":1}}", NULL },
    { "id of 1 MiB", "{\"id\":\"", mib, "\",\"op\":\"hello\"}", "E_REQUEST" },
    { "member name of 1 MiB", "{\"id\":1,\"op\":\"hello\",\"", mib, "\":1}", NULL },
    { "number of 100,000 digits", "{\"id\":1,\"op\":\"set\",\"items\":{\"digits\":", digits, "}}", NULL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *body = g_strconcat (cases[i].head, cases[i].arg, cases[i].tail, NULL);
      Row row = { cases[i].name, body, 0, cases[i].code, NULL };
      run_row (f, &row);
    }
}

/* Odd but valid values must come back exactly as JavaScript would read
 * them, and a hostile key is just a key. */
static void
test_odd_values_read_back (void **state)
{
  Fixture *f = *state;
  g_autofree char *text = NULL;

  assert_true (nmt_host_send (f->host, "{\"id\":1,\"op\":\"get\",\"keys\":[\"__proto__\",\"big\",\"nul\",\"constructor\"]}"));
  text = nmt_host_recv_frame (f->host, NULL);
  assert_non_null (text);
  /* Items come in the byte order of their keys, as Chrome's do. */
  assert_string_equal (text, "{\"id\":1,\"ok\":true,\"items\":{\"__proto__\":{\"polluted\":true},"
                             "\"big\":null,\"constructor\":1,\"nul\":\"a\\u0000b\"}}");
}

/* Rows that break the framing: each gets its own host, which must reply
 * what it can and end with status 1, never crash or hang. */
typedef struct {
  const char *name;
  guint32     header;
  gsize       header_bytes;  /* < 4: a header cut short by EOF */
  gsize       body_bytes;    /* what follows before EOF */
  const char *code;          /* the one reply expected, or NULL for none */
} BreakRow;

static const BreakRow break_rows[] = {
  { "length 2^31", 0x80000000u, 4, 0, "E_TOO_LARGE" },
  { "length 2^32-1", 0xFFFFFFFFu, 4, 0, "E_TOO_LARGE" },
  { "length 64 MiB + 1", 64u * 1024 * 1024 + 1, 4, 16, "E_TOO_LARGE" },
  { "header cut after 1 byte", 20, 1, 0, NULL },
  { "header cut after 2 bytes", 20, 2, 0, NULL },
  { "header cut after 3 bytes", 20, 3, 0, NULL },
  { "body cut short", 100, 4, 50, NULL },
  { "64 MiB declared, 1 byte sent", 64u * 1024 * 1024, 4, 1, NULL },
};

static void
test_stream_breakers (void **state)
{
  Fixture *f = *state;

  for (gsize i = 0; i < G_N_ELEMENTS (break_rows); i++)
    {
      const BreakRow *b = &break_rows[i];
      g_autofree char *home = nmt_make_home ();
      g_autoptr(NmtHost) host = nmt_host_start (home, NMT_ORIGIN);
      g_autofree char *body = g_strnfill (b->body_bytes, '{');
      cJSON *first, *reply;

      /* A good request ahead of the bad frame is answered, and committed. */
      assert_true (nmt_host_send (host, "{\"id\":\"before\",\"op\":\"set\",\"items\":{\"k\":1}}"));
      assert_true (nmt_host_send_raw (host, &b->header, b->header_bytes));
      if (b->body_bytes > 0)
        assert_true (nmt_host_send_raw (host, body, b->body_bytes));
      nmt_host_close_input (host);
      first = nmt_host_recv (host);
      if (first == NULL)
        fail_msg ("%s: the request before it got no reply", b->name);
      nmt_assert_ok (first);
      reply = nmt_host_recv (host);
      if (b->code != NULL)
        {
          if (reply == NULL)
            fail_msg ("%s: expected %s, got no reply", b->name, b->code);
          nmt_assert_error (reply, b->code);
          assert_true (cJSON_IsNull (cJSON_GetObjectItemCaseSensitive (reply, "id")));
          f->rejected++;
        }
      else
        {
          if (reply != NULL)
            fail_msg ("%s: expected no reply, got %s", b->name, cJSON_PrintUnformatted (reply));
          f->rejected++;
        }
      assert_null (nmt_host_recv (host));
      assert_int_equal (nmt_host_wait (host), 1);
      cJSON_Delete (first);
      cJSON_Delete (reply);

      {
        const char *args[] = { "get", "--origin", NMT_ORIGIN, "k", NULL };
        g_autofree char *out = NULL, *err = NULL;
        assert_int_equal (nmt_run_cli (home, args, NULL, &out, &err), 0);
        cJSON *items = cJSON_Parse (out);
        assert_true (cJSON_IsNumber (cJSON_GetObjectItemCaseSensitive (items, "k")));
        cJSON_Delete (items);
      }
      nmt_remove_tree (home);
    }
  print_message ("hostile: %u malformed inputs rejected in all\n", f->rejected);
}

/* Hostile environments (issue 14, defect 6): what the browser's
 * surroundings can do to a host before any frame arrives. Each row makes
 * one in a fresh data root, starts a host there and sends one request;
 * the host must answer it or end with a message, within a generous
 * guard (a hang fails the row; no timing is measured), never die of a
 * signal. To add a case, add a row to env_rows[]. */
typedef enum {
  ENV_REPLIES,      /* the request gets a reply (ok or the error code) */
  ENV_EXITS,        /* the host ends with status 1 and says why on stderr */
} EnvOutcome;

typedef struct {
  const char          *name;
  void               (*prepare) (const char *home);
  GSpawnChildSetupFunc child_setup;
  const char          *request;
  EnvOutcome           outcome;
  const char          *code;     /* ENV_REPLIES: expected error code, NULL for ok */
  const char          *says;     /* a fragment of the reply's message or of stderr */
  gboolean             direct;   /* needs the real process: skipped under a wrapper (valgrind) */
} EnvRow;

#define ENV_GUARD_MS 60000
#define ORIGIN_DIR "chromium-abcdefghijklmnopabcdefghijklmnop"

static void
fifo_config (const char *home)
{
  g_autofree char *conf = g_build_filename (home, "nmstore.conf", NULL);
  assert_int_equal (mkfifo (conf, 0600), 0);
}

static void
fifo_log_file (const char *home)
{
  g_autofree char *fifo = g_build_filename (home, "log.fifo", NULL);
  g_autofree char *conf = g_strdup_printf ("[log]\nfile = %s\n", fifo);

  assert_int_equal (mkfifo (fifo, 0600), 0);
  nmt_write_config (home, conf);
}

/* An origin encrypted with a key file beside its store, whose key file
 * is then swapped for a FIFO. */
static void
fifo_key_file (const char *home)
{
  g_autofree char *key = g_build_filename (home, ORIGIN_DIR, "store.key", NULL);

  nmt_encrypt_origin (home, NMT_ORIGIN);
  assert_int_equal (g_unlink (key), 0);
  assert_int_equal (mkfifo (key, 0600), 0);
}

static void
fifo_bell (const char *home)
{
  g_autofree char *events = g_build_filename (home, ORIGIN_DIR, "events", NULL);
  g_autofree char *bell = g_build_filename (events, "bell", NULL);

  assert_int_equal (g_mkdir_with_parents (events, 0700), 0);
  assert_int_equal (mkfifo (bell, 0600), 0);
}

static void
limit_fds (gpointer data)
{
  struct rlimit lim = { 8, 8 };
  setrlimit (RLIMIT_NOFILE, &lim);
}

/* SIGXFSZ at its default, as a browser started under ulimit -f leaves it. */
static void
limit_file_size_default_signal (gpointer data)
{
  struct rlimit lim = { 256 * 1024, RLIM_INFINITY };

  signal (SIGXFSZ, SIG_DFL);
  setrlimit (RLIMIT_FSIZE, &lim);
}

static const EnvRow env_rows[] = {
  { "nmstore.conf is a FIFO", fifo_config, NULL, "{\"id\":1,\"op\":\"hello\"}", ENV_EXITS, NULL,
    "not a regular file", FALSE },
  { "the [log] file is a FIFO", fifo_log_file, NULL, "{\"id\":1,\"op\":\"set\",\"items\":{\"k\":1}}", ENV_REPLIES,
    NULL, NULL, FALSE },
  { "the key file is a FIFO", fifo_key_file, NULL, "{\"id\":1,\"op\":\"get\",\"keys\":\"k\"}", ENV_REPLIES,
    "E_LOCKED", "store.key", FALSE },
  { "the change bell is a FIFO", fifo_bell, NULL, "{\"id\":1,\"op\":\"get\",\"keys\":\"k\"}", ENV_REPLIES,
    "E_IO", "bell", FALSE },
  { "8 file descriptors in all (RLIMIT_NOFILE)", NULL, limit_fds, "{\"id\":1,\"op\":\"hello\"}", ENV_EXITS, NULL,
    "file descriptors", TRUE },
  { "a 256 KiB file-size limit, SIGXFSZ not ignored", NULL, limit_file_size_default_signal, NULL, ENV_REPLIES,
    "E_IO", "size limit", FALSE },
};

static void
run_env_row (const EnvRow *row, guint *n_run)
{
  g_autofree char *home = nmt_make_home ();
  g_autofree char *err_path = g_strdup_printf ("%s.stderr", home);
  g_autofree char *err_file = NULL;
  g_autofree char *req = NULL;
  g_autoptr(NmtHost) host = NULL;
  const char *args[] = { "host", "--origin", NMT_ORIGIN, NULL };
  NmtHostOptions options = { .child_setup = row->child_setup };
  int status;

  if (row->direct && nmt_host_wrapped ())
    {
      print_message ("hostile environment \"%s\": skipped under NMT_HOST_WRAPPER (the wrapper needs "
                     "descriptors of its own)\n", row->name);
      nmt_remove_tree (home);
      return;
    }
  options.stderr_path = err_path;
  if (row->prepare != NULL)
    row->prepare (home);
  host = nmt_host_start_full (home, args, &options);
  /* A value larger than the file-size limit when the row has none. */
  if (row->request == NULL)
    {
      g_autofree char *fill = g_strnfill (512 * 1024, 'z');
      req = g_strdup_printf ("{\"id\":1,\"op\":\"set\",\"items\":{\"big\":\"%s\"}}", fill);
    }
  nmt_host_send (host, req ? req : row->request);
  if (!nmt_host_readable (host, ENV_GUARD_MS))
    {
      nmt_host_kill (host);
      fail_msg ("hostile environment \"%s\": the host hung (no reply and no exit)", row->name);
    }
  if (row->outcome == ENV_REPLIES)
    {
      cJSON *reply = nmt_host_recv (host);

      if (reply == NULL)
        {
          status = nmt_host_wait (host);
          g_file_get_contents (err_path, &err_file, NULL, NULL);
          fail_msg ("hostile environment \"%s\": no reply; the host ended with %d: %s", row->name, status,
                    err_file ? err_file : "");
        }
      if (row->code == NULL)
        nmt_assert_ok (reply);
      else
        {
          const char *message;
          nmt_assert_error (reply, row->code);
          message = nmt_member (nmt_member (reply, "error"), "message")->valuestring;
          if (row->says != NULL && strstr (message, row->says) == NULL)
            fail_msg ("hostile environment \"%s\": the message \"%s\" does not mention %s", row->name, message,
                      row->says);
        }
      cJSON_Delete (reply);
      /* And it goes on serving. */
      {
        cJSON *again = nmt_host_call (host, "{\"id\":2,\"op\":\"hello\"}");
        nmt_assert_ok (again);
        cJSON_Delete (again);
      }
      nmt_host_close_input (host);
      status = nmt_host_wait (host);
      if (status != 0)
        fail_msg ("hostile environment \"%s\": the host ended with %d", row->name, status);
    }
  else
    {
      assert_null (nmt_host_recv (host));
      status = nmt_host_wait (host);
      g_file_get_contents (err_path, &err_file, NULL, NULL);
      if (status != 1)
        fail_msg ("hostile environment \"%s\": the host ended with %d, not 1 (128+N is a signal): %s", row->name,
                  status, err_file ? err_file : "");
      if (err_file == NULL || strstr (err_file, row->says) == NULL)
        fail_msg ("hostile environment \"%s\": stderr does not say \"%s\": %s", row->name, row->says,
                  err_file ? err_file : "(nothing)");
    }
  (*n_run)++;
  g_unlink (err_path);
  nmt_remove_tree (home);
}

static void
test_hostile_environments (void **state)
{
  /* NMT_HOSTILE_ENV=TEXT runs only the rows whose name holds TEXT. */
  const char *only = g_getenv ("NMT_HOSTILE_ENV");
  guint n_run = 0;

  for (gsize i = 0; i < G_N_ELEMENTS (env_rows); i++)
    if (only == NULL || strstr (env_rows[i].name, only) != NULL)
      run_env_row (&env_rows[i], &n_run);
  print_message ("hostile: %u hostile environments met without a hang or a crash\n", n_run);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_text_rows),
    cmocka_unit_test (test_every_param_type),
    cmocka_unit_test (test_deep_nesting),
    cmocka_unit_test (test_huge_members),
    cmocka_unit_test (test_odd_values_read_back),
    cmocka_unit_test (test_stream_breakers),
    cmocka_unit_test (test_hostile_environments),
  };
  /* One host and one tally for the whole table. */
  return cmocka_run_group_tests (tests, setup, teardown);
}
