/* SPDX-License-Identifier: MIT */
/* floor.c: the floor peer, nmstore-bench-floor: the least any host backed
 * by SQLite must do with the host's own frames, so that every host figure
 * can be read against the pipe plus SQLite's own commit of the same rows.
 *
 * For each request it parses the JSON with cJSON and:
 *   set    commits each item with one prepared upsert, in autocommit, of
 *          (key, the value as compact JSON text); replies {"id":N,"ok":true}
 *   get    one prepared SELECT per key; the reply is built by string
 *          concatenation, {"id":N,"ok":true,"items":{...}}
 *   batch  every entry inside one BEGIN/COMMIT (bare: no savepoints); the
 *          reply lists the entries' replies, as the host's does
 * Anything else is answered "ok":false, so that a run that sends the floor
 * what it cannot do fails instead of measuring nothing.
 *
 * The database mirrors the host's (host/store/store.c, open_db and
 * schema_sql): journal_mode=WAL, synchronous=NORMAL, journal_size_limit
 * 16 MiB, and a rowid table with a UNIQUE text key, so that a write updates
 * the same two b-trees (the table and the key's index) as the host's. What
 * it leaves out is the host's own work: the kind and size columns, the
 * byte-counting triggers, the quota, savepoints, events.
 *
 * Frames and the read loop are the echo peer's (frame-loop.c): everything
 * waiting is read, and every reply to it goes out in one write. A reply over
 * 1 MiB is chunked as the host chunks it (docs/PROTOCOL.md). It keeps its
 * database in $NMSTORE_HOME/floor.sqlite, beside the host's store. */
#define _POSIX_C_SOURCE 200809L

#include "frame-loop.h"

#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RESPONSE (1024u * 1024u)
/* A chunk's part is escaped as a JSON string: a printed reply holds no raw
 * control characters, so escaping at most doubles it (\" and \\), and this
 * much raw text always fits a 1 MiB frame with its envelope. */
#define CHUNK_RAW (MAX_RESPONSE / 2 - 128u)

typedef struct {
  char  *p;
  size_t len, cap;
} Buf;

typedef struct {
  sqlite3      *db;
  sqlite3_stmt *upsert, *select, *begin, *commit;
  Buf           out;    /* every reply to one read, headers included */
  Buf           reply;  /* the reply being built */
  Buf           part;   /* a chunk's escaped part */
} Floor;

static void
buf_add (Buf *b, const char *s, size_t n)
{
  if (b->cap - b->len < n + 1)
    {
      size_t cap = b->cap ? b->cap : 4096;
      while (cap - b->len < n + 1)
        cap *= 2;
      b->p = realloc (b->p, cap);
      if (b->p == NULL)
        {
          fprintf (stderr, "floor: out of memory; free some and run again\n");
          exit (1);
        }
      b->cap = cap;
    }
  memcpy (b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void
buf_adds (Buf *b, const char *s)
{
  buf_add (b, s, strlen (s));
}

/* s[0..n) as the inside of a JSON string. */
static void
buf_escape (Buf *b, const char *s, size_t n)
{
  size_t i, run = 0;

  for (i = 0; i < n; i++)
    {
      unsigned char c = (unsigned char) s[i];
      char esc[8];

      if (c >= 0x20 && c != '"' && c != '\\')
        continue;
      buf_add (b, s + run, i - run);
      if (c == '"' || c == '\\')
        snprintf (esc, sizeof esc, "\\%c", c);
      else
        snprintf (esc, sizeof esc, "\\u%04x", c);
      buf_adds (b, esc);
      run = i + 1;
    }
  buf_add (b, s + run, n - run);
}

static void
add_id (Buf *b, const cJSON *id)
{
  char num[32];

  if (cJSON_IsNumber (id) && id->valuedouble == (double) id->valueint)
    {
      snprintf (num, sizeof num, "%d", id->valueint);
      buf_adds (b, num);
    }
  else if (cJSON_IsString (id))
    {
      buf_adds (b, "\"");
      buf_escape (b, id->valuestring, strlen (id->valuestring));
      buf_adds (b, "\"");
    }
  else if (id != NULL && !cJSON_IsNull (id))
    {
      char *text = cJSON_PrintUnformatted (id);
      buf_adds (b, text);
      cJSON_free (text);
    }
  else
    buf_adds (b, "null");
}

static int
reply_error (Buf *b, const cJSON *id, const char *message)
{
  buf_adds (b, "{\"id\":");
  add_id (b, id);
  buf_adds (b, ",\"ok\":false,\"error\":{\"code\":\"E_FLOOR\",\"message\":\"");
  buf_escape (b, message, strlen (message));
  buf_adds (b, "\"}}");
  return -1;
}

static int
step_done (Floor *f, sqlite3_stmt *s)
{
  int rc = sqlite3_step (s);

  sqlite3_reset (s);
  if (rc == SQLITE_DONE || rc == SQLITE_ROW)
    return 0;
  fprintf (stderr, "floor: SQLite: %s; check the disk under NMSTORE_HOME\n", sqlite3_errmsg (f->db));
  return -1;
}

static int
do_set (Floor *f, const cJSON *req, const cJSON *id, Buf *b)
{
  const cJSON *items = cJSON_GetObjectItemCaseSensitive (req, "items"), *item;

  if (!cJSON_IsObject (items))
    return reply_error (b, id, "set: items is not an object; the floor peer takes what the host takes");
  cJSON_ArrayForEach (item, items)
    {
      char *text = cJSON_PrintUnformatted (item);
      int rc;

      sqlite3_bind_text (f->upsert, 1, item->string, -1, SQLITE_STATIC);
      sqlite3_bind_blob (f->upsert, 2, text, (int) strlen (text), SQLITE_STATIC);
      rc = step_done (f, f->upsert);
      sqlite3_clear_bindings (f->upsert);
      cJSON_free (text);
      if (rc != 0)
        return reply_error (b, id, "set: SQLite failed; see the floor peer's stderr");
    }
  buf_adds (b, "{\"id\":");
  add_id (b, id);
  buf_adds (b, ",\"ok\":true}");
  return 0;
}

static int
get_one (Floor *f, const char *key, int *first, Buf *b)
{
  int rc;

  sqlite3_bind_text (f->select, 1, key, -1, SQLITE_STATIC);
  rc = sqlite3_step (f->select);
  if (rc == SQLITE_ROW)
    {
      buf_adds (b, *first ? "\"" : ",\"");
      buf_escape (b, key, strlen (key));
      buf_adds (b, "\":");
      buf_add (b, sqlite3_column_blob (f->select, 0), (size_t) sqlite3_column_bytes (f->select, 0));
      *first = 0;
    }
  sqlite3_reset (f->select);
  return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

static int
do_get (Floor *f, const cJSON *req, const cJSON *id, Buf *b)
{
  const cJSON *keys = cJSON_GetObjectItemCaseSensitive (req, "keys"), *key;
  size_t mark = b->len;
  int first = 1, failed = 0;

  buf_adds (b, "{\"id\":");
  add_id (b, id);
  buf_adds (b, ",\"ok\":true,\"items\":{");
  if (cJSON_IsString (keys))
    failed = get_one (f, keys->valuestring, &first, b);
  else if (cJSON_IsArray (keys))
    {
      cJSON_ArrayForEach (key, keys)
        if (!cJSON_IsString (key) || (failed = get_one (f, key->valuestring, &first, b)) != 0)
          break;
      failed = failed || (key != NULL);
    }
  else
    failed = 1;
  if (failed)
    {
      b->len = mark;
      return reply_error (b, id, "get: keys must be a string or an array of strings here, "
                                 "and SQLite must read them; see the floor peer's stderr");
    }
  buf_adds (b, "}}");
  return 0;
}

static int answer (Floor *f, const cJSON *req, int nested, Buf *b);

static int
do_batch (Floor *f, const cJSON *req, const cJSON *id, Buf *b)
{
  const cJSON *requests = cJSON_GetObjectItemCaseSensitive (req, "requests"), *entry;
  size_t mark = b->len;
  int first = 1;

  if (!cJSON_IsArray (requests) || cJSON_GetArraySize (requests) == 0)
    return reply_error (b, id, "batch: requests is not a non-empty array");
  if (step_done (f, f->begin) != 0)
    return reply_error (b, id, "batch: SQLite cannot begin; see the floor peer's stderr");
  buf_adds (b, "{\"id\":");
  add_id (b, id);
  buf_adds (b, ",\"ok\":true,\"replies\":[");
  cJSON_ArrayForEach (entry, requests)
    {
      if (!first)
        buf_adds (b, ",");
      first = 0;
      answer (f, entry, 1, b);
    }
  buf_adds (b, "]}");
  if (step_done (f, f->commit) != 0)
    {
      sqlite3_exec (f->db, "ROLLBACK", NULL, NULL, NULL);
      b->len = mark;
      return reply_error (b, id, "batch: SQLite cannot commit; see the floor peer's stderr");
    }
  return 0;
}

/* Appends the reply to one request to b: 0 when it is "ok":true. */
static int
answer (Floor *f, const cJSON *req, int nested, Buf *b)
{
  const cJSON *id = cJSON_GetObjectItemCaseSensitive (req, "id");
  const char *op = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (req, "op"));

  if (op == NULL)
    return reply_error (b, id, "a request without an op");
  if (strcmp (op, "set") == 0)
    return do_set (f, req, id, b);
  if (strcmp (op, "get") == 0)
    return do_get (f, req, id, b);
  if (strcmp (op, "batch") == 0 && !nested)
    return do_batch (f, req, id, b);
  return reply_error (b, id, "the floor peer answers only set, get and batch; "
                             "measure other ops against the echo peer");
}

static void
add_frame (Buf *out, const char *body, size_t len)
{
  uint32_t header = (uint32_t) len;

  buf_add (out, (const char *) &header, 4);
  buf_add (out, body, len);
}

/* The reply in f->reply as one frame, or as the host's chunks. */
static void
send_reply (Floor *f, const cJSON *id)
{
  size_t at, count = 0, i, *cuts;

  if (f->reply.len <= MAX_RESPONSE)
    {
      add_frame (&f->out, f->reply.p, f->reply.len);
      return;
    }
  /* Every part ends on a whole UTF-8 character, so the cuts come first. */
  cuts = malloc ((f->reply.len / (CHUNK_RAW - 4) + 2) * sizeof *cuts);
  if (cuts == NULL)
    exit (1);
  for (at = 0; at < f->reply.len; at = cuts[count++])
    {
      size_t end = f->reply.len - at <= CHUNK_RAW ? f->reply.len : at + CHUNK_RAW;
      while (end < f->reply.len && end > at + 1 && ((unsigned char) f->reply.p[end] & 0xC0) == 0x80)
        end--;
      cuts[count] = end;
    }
  for (i = 0, at = 0; i < count; at = cuts[i++])
    {
      char head[96];

      f->part.len = 0;
      buf_adds (&f->part, "{\"id\":");
      add_id (&f->part, id);
      snprintf (head, sizeof head, ",\"chunk\":%zu,\"chunks\":%zu,\"part\":\"", i, count);
      buf_adds (&f->part, head);
      buf_escape (&f->part, f->reply.p + at, cuts[i] - at);
      buf_adds (&f->part, "\"}");
      add_frame (&f->out, f->part.p, f->part.len);
    }
  free (cuts);
}

static int
floor_frames (const unsigned char *frames, size_t len, void *user_data)
{
  Floor *f = user_data;
  size_t at = 0;

  f->out.len = 0;
  while (at < len)
    {
      uint32_t n;
      cJSON *req;

      memcpy (&n, frames + at, 4);
      req = cJSON_ParseWithLength ((const char *) frames + at + 4, n);
      at += 4 + (size_t) n;
      f->reply.len = 0;
      if (req == NULL)
        reply_error (&f->reply, NULL, "a frame that is not JSON");
      else
        answer (f, req, 0, &f->reply);
      send_reply (f, cJSON_GetObjectItemCaseSensitive (req, "id"));
      cJSON_Delete (req);
    }
  return frame_loop_write_all ((const unsigned char *) f->out.p, f->out.len);
}

static int
prepare (Floor *f, const char *sql, sqlite3_stmt **s)
{
  if (sqlite3_prepare_v3 (f->db, sql, -1, SQLITE_PREPARE_PERSISTENT, s, NULL) == SQLITE_OK)
    return 0;
  fprintf (stderr, "floor: cannot prepare \"%s\": %s\n", sql, sqlite3_errmsg (f->db));
  return -1;
}

static int
open_db (Floor *f)
{
  const char *home = getenv ("NMSTORE_HOME");
  char path[4096];

  if (home == NULL)
    {
      fprintf (stderr, "floor: NMSTORE_HOME is not set; set it to a directory for floor.sqlite\n");
      return -1;
    }
  snprintf (path, sizeof path, "%s/floor.sqlite", home);
  if (sqlite3_open_v2 (path, &f->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL)
          != SQLITE_OK
      || sqlite3_exec (f->db,
                       "PRAGMA journal_mode = WAL;"
                       "PRAGMA synchronous = NORMAL;"
                       "PRAGMA journal_size_limit = 16777216;"
                       "CREATE TABLE IF NOT EXISTS items ("
                       "  id    INTEGER PRIMARY KEY,"
                       "  key   TEXT NOT NULL UNIQUE,"
                       "  value BLOB NOT NULL);",
                       NULL, NULL, NULL) != SQLITE_OK)
    {
      fprintf (stderr, "floor: cannot open %s: %s; check that the directory is writable\n", path,
               f->db ? sqlite3_errmsg (f->db) : "out of memory");
      return -1;
    }
  return prepare (f, "INSERT INTO items (key, value) VALUES (?1, ?2) "
                     "ON CONFLICT (key) DO UPDATE SET value = excluded.value", &f->upsert)
         | prepare (f, "SELECT value FROM items WHERE key = ?1", &f->select)
         | prepare (f, "BEGIN IMMEDIATE", &f->begin)
         | prepare (f, "COMMIT", &f->commit);
}

int
main (void)
{
  Floor f = { 0 };
  int status;

  /* As the host does (nms_store_init): without SQLite's global memory
   * count, which would cost the floor what the host no longer pays. */
  sqlite3_config (SQLITE_CONFIG_MEMSTATUS, 0);
  if (open_db (&f) != 0)
    return 1;
  status = frame_loop_run ("floor", floor_frames, &f);
  sqlite3_finalize (f.upsert);
  sqlite3_finalize (f.select);
  sqlite3_finalize (f.begin);
  sqlite3_finalize (f.commit);
  sqlite3_close (f.db);
  free (f.out.p);
  free (f.reply.p);
  free (f.part.p);
  return status;
}
