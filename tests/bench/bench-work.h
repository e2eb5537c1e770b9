/* SPDX-License-Identifier: MIT */
/* bench-work.h: what the workload files share: one peer run from start to
 * reaping, request lists turned into host and echo frames, and filling a
 * store before it is measured. */
#pragma once

#include "bench.h"

G_BEGIN_DECLS

/* The largest peak resident set seen for one workload's processes. */
typedef struct {
  gint64 host_kb;
  gint64 echo_kb;
} BenchRss;

typedef enum {
  BENCH_HOST,
  BENCH_ECHO,
  BENCH_FLOOR,  /* sent the host's frames; its RSS is not kept */
} BenchSide;

BenchPeer   *bench_work_start       (const BenchConfig *config, BenchSide side, const char *home, GError **error);
gboolean     bench_work_stop        (BenchPeer *peer, BenchSide side, BenchRss *rss, GError **error);
/* Starts a peer, runs one exchange, and reaps it. */
gboolean     bench_work_run         (const BenchConfig *config, BenchSide side, const char *home,
                                     const BenchFrames *frames, guint window, BenchKeep keep,
                                     BenchExchange *x, BenchRss *rss, GError **error);
/* One group per request, each answered by one message. */
BenchFrames *bench_work_host_frames (GPtrArray *requests);
/* The echo peer's counterpart: each request padded to the size of the
 * host's reply to it (reply_sizes, from a host run; NULL to send the
 * requests as they are), and a reply over 1 MiB sent as the same number of
 * 1 MiB frames that the host's chunked reply took. */
BenchFrames *bench_work_echo_frames (GPtrArray *requests, GArray *reply_sizes);
/* Stores items through the host in large pipelined sets. make_item
 * returns the i-th key and sets *value to its JSON (both freed here). */
typedef char *(*BenchItemFunc) (guint i, char **value, gpointer user_data);
gboolean     bench_work_populate    (const BenchConfig *config, const char *home, guint n_items,
                                     BenchItemFunc make_item, gpointer user_data, GError **error);
typedef struct {
  gdouble host;
  gdouble echo;
  gdouble floor;  /* NAN when the floor peer was not run */
} BenchPair;

/* Rounds of host, floor (when floor_frames is not NULL; it is sent the
 * host's frames as a rule) and echo over the same requests. */
gboolean     bench_work_alternate   (const BenchConfig *config, const char *home,
                                     const BenchFrames *host_frames, const BenchFrames *floor_frames,
                                     const BenchFrames *echo_frames,
                                     guint window, gboolean rate, BenchRss *rss, BenchPair *out,
                                     GError **error);
/* Sets key through a fresh peer of `side`, gets it back, and checks that
 * the value is exactly `value`; the get's reply goes to *reply when asked. */
gboolean     bench_work_check_get   (const BenchConfig *config, BenchSide side, const char *home,
                                     const char *set, const char *get, const char *key, const char *value,
                                     cJSON **reply, GError **error);
char        *bench_work_new_home    (const BenchConfig *config, const char *name);
void         bench_work_rss_row     (BenchReport *report, const char *workload, const BenchRss *rss);
char        *bench_work_state_key   (guint i);

typedef struct {
  BenchData *data;
  gsize      size;
} BenchStateMaker;

/* A BenchItemFunc: torrent i's state key, and a state of maker->size. */
char        *bench_work_state_item  (guint i, char **value, gpointer user_data);
/* Set requests for torrents' states: key i % n_keys each, or a random one
 * of n_keys when random is set. */
GPtrArray   *bench_work_set_requests (BenchData *data, const BenchConfig *config, guint n,
                                      guint n_keys, gboolean random);

gboolean     bench_work_sets        (const BenchConfig *config, BenchReport *report, GError **error);
gboolean     bench_work_gets        (const BenchConfig *config, BenchReport *report, GError **error);
gboolean     bench_work_scale       (const BenchConfig *config, BenchReport *report, GError **error);
gboolean     bench_work_restore     (const BenchConfig *config, BenchReport *report, GError **error);
/* W2b and W3b (bench-batch.c): the same requests in batch frames, and their
 * speed-up over the unbatched figures of W2 and W3 (`unbatched`). */
gboolean     bench_batch_sets       (const BenchConfig *config, BenchReport *report, const char *home,
                                     BenchData *data, const BenchPair *unbatched, GError **error);
gboolean     bench_batch_gets       (const BenchConfig *config, BenchReport *report, const char *home,
                                     const char *key, const char *value, const BenchPair *unbatched,
                                     GError **error);
gboolean     bench_work_encrypted   (const BenchConfig *config, BenchReport *report, GError **error);

G_END_DECLS
