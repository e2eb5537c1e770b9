/* SPDX-License-Identifier: MIT */
/* bench.h: the host benchmark's shared pieces.
 *
 * The driver talks to a peer (the nmstore host, the echo peer that is the
 * pipe's limit, or the floor peer that is the pipe plus SQLite's own commit
 * of the same rows) exactly as a browser does: the peer's stdin and stdout
 * are pipes, and both carry 32-bit native-order length-prefixed frames.
 * bench-peer.c owns processes and the exchange of frames, bench-data.c the
 * synthetic session data, bench-work.c the workloads, bench-report.c the
 * results files. Everything here is test code and never installed. */
#pragma once

#include <cjson/cJSON.h>
#include <gio/gio.h>
#include <math.h>
#include <sys/types.h>

G_BEGIN_DECLS

#define BENCH_ORIGIN "chrome-extension://abcdefghijklmnopabcdefghijklmnop/"

/* ---- frames and peers (bench-peer.c) ---- */

/* A run of request frames, stored back to back with their headers, cut
 * into groups: a group is sent at once and is complete when `expect`
 * messages have come back (a chunked reply counts as one message). */
typedef struct {
  GByteArray *bytes;
  GArray     *group_end;  /* gsize: offset one past each group's last frame */
  GArray     *expect;     /* guint: messages that complete each group */
} BenchFrames;

BenchFrames *bench_frames_new        (void);
void         bench_frames_free       (BenchFrames *frames);
/* Appends one frame holding json[0..len) to the open group. */
void         bench_frames_add        (BenchFrames *frames, const char *json, gsize len);
/* Closes the open group, which completes after `expect` messages. */
void         bench_frames_end_group  (BenchFrames *frames, guint expect);
guint        bench_frames_n_groups   (const BenchFrames *frames);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (BenchFrames, bench_frames_free)

typedef struct _BenchPeer BenchPeer;

typedef struct {
  int     status;     /* exit status, or 128 + signal */
  gint64  maxrss_kb;  /* peak resident set (VmHWM) once every reply was read */
} BenchExit;

/* What one exchange saw. */
typedef struct {
  gdouble  seconds;       /* first byte written to last message read */
  guint64  bytes_in;      /* reply bytes read, headers included */
  guint64  bytes_out;     /* request bytes written, headers included */
  guint    messages;      /* complete messages read */
  guint    failures;      /* replies that said "ok":false */
  GArray  *latency_us;    /* gdouble per group: its first byte sent to its last message read */
  GArray  *reply_sizes;   /* gsize per group: its reply bytes, headers included (when asked) */
  GPtrArray *replies;     /* char* per message, reassembled JSON text (when asked) */
} BenchExchange;

void bench_exchange_clear (BenchExchange *x);

typedef enum {
  BENCH_KEEP_NOTHING = 0,
  BENCH_KEEP_SIZES   = 1 << 0,  /* fill reply_sizes */
  BENCH_KEEP_REPLIES = 1 << 1,  /* fill replies, reassembling chunks */
} BenchKeep;

/* peer_cpu: the CPU the peer runs on, or -1 to leave it to the scheduler. */
BenchPeer *bench_peer_start    (const char *const *argv, const char *home, int peer_cpu, GError **error);
pid_t      bench_peer_pid      (BenchPeer *peer);
/* Sends every group of frames with at most `window` groups in flight. */
gboolean   bench_peer_exchange (BenchPeer *peer, const BenchFrames *frames, guint window,
                                BenchKeep keep, BenchExchange *x, GError **error);
/* One request, one reply, reassembled and parsed. */
cJSON     *bench_peer_call     (BenchPeer *peer, const char *json, GError **error);
/* Closes the peer's stdin and reaps it; frees the peer. */
gboolean   bench_peer_stop     (BenchPeer *peer, BenchExit *exit_info, GError **error);
void       bench_peer_kill     (BenchPeer *peer);

/* ---- synthetic session data (bench-data.c) ---- */

typedef struct {
  GRand *rand;
  guint  serial;
} BenchData;

BenchData *bench_data_new           (guint32 seed);
void       bench_data_free          (BenchData *data);
char      *bench_data_info_hash     (BenchData *data, guint i);
/* A torrent's state as the engine writes it, about `size` bytes of JSON. */
char      *bench_data_state_json    (BenchData *data, gsize size);
/* A state whose bitfield fits a torrent of `pieces` pieces. */
char      *bench_data_state_for_pieces (BenchData *data, guint pieces);
/* {"$bytes":"<base64>"} of a well-formed .torrent file of about `size`
 * bytes, made from seed; *info_hash is its info dictionary's SHA-1 in hex
 * and *pieces its piece count. */
char      *bench_data_torrentfile   (guint32 seed, gsize size, char **info_hash, guint *pieces);
/* The engine's index of the torrents whose hashes are given, as file or
 * as magnet torrents. */
char      *bench_data_index_json    (GPtrArray *hashes, gboolean magnet);
/* A copy of request json with a "pad" member that brings it to `size`
 * bytes, so that the echo peer moves as many bytes as the host does. */
char      *bench_data_pad_request   (const char *json, gsize size);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (BenchData, bench_data_free)

/* ---- results (bench-report.c) ---- */

typedef enum {
  BENCH_LOWER_IS_BETTER,
  BENCH_HIGHER_IS_BETTER,
} BenchSense;

/* What a row's target is on. */
typedef enum {
  BENCH_ON_VALUE,  /* the value itself, in the row's unit */
  BENCH_ON_ECHO,   /* value ÷ echo */
  BENCH_ON_FLOOR,  /* value ÷ floor */
} BenchTargetOn;

typedef struct {
  char      *workload;    /* "W1" */
  char      *figure;      /* what was measured, for a person */
  char      *unit;
  gdouble    value;
  gdouble    echo;        /* the echo peer's figure, or NAN */
  gdouble    floor;       /* the floor peer's figure, or NAN */
  BenchSense sense;
  gdouble    target;      /* NAN when there is none */
  BenchTargetOn target_on;
  char      *label;       /* a short name for the chart; NULL: not charted */
} BenchRow;

typedef struct {
  GPtrArray  *rows;      /* BenchRow* */
  GPtrArray  *skipped;   /* char*: "W7: skipped: encryption not built" */
  cJSON      *conditions;
} BenchReport;

BenchReport *bench_report_new     (void);
void         bench_report_free    (BenchReport *report);
BenchRow    *bench_report_add     (BenchReport *report, const char *workload, const char *figure,
                                   const char *unit, gdouble value, gdouble echo, BenchSense sense);
void         bench_row_set_target (BenchRow *row, gdouble target, BenchTargetOn on);
void         bench_row_set_floor  (BenchRow *row, gdouble floor);
void         bench_row_set_label  (BenchRow *row, const char *label);
void         bench_report_skip    (BenchReport *report, const char *workload, const char *why);
/* Writes results.json, results.md and chart.dat into dir. */
gboolean     bench_report_write   (BenchReport *report, const char *dir, GError **error);
/* Checks that a results.json is well formed: the smoke test's assertion. */
gboolean     bench_report_validate (const char *path, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (BenchReport, bench_report_free)

/* ---- workloads (bench-work.c) ---- */

typedef struct {
  char  *nmstore;      /* the host binary */
  char  *echo;         /* the echo peer binary */
  char  *floor;        /* the floor peer binary */
  char  *scratch;      /* a temporary directory for the stores */
  guint  rounds;       /* host, floor and echo alternate this many times per workload */
  guint  seq_ops;      /* sequential requests per round */
  guint  pipe_ops;     /* pipelined requests per round */
  guint  window;       /* pipelined requests in flight */
  guint  batch_ops;    /* W2b, W3b: requests per round, sent in batches */
  guint  batch_size;   /* requests per batch frame */
  guint  batch_window; /* batch frames in flight */
  guint  torrents;     /* W4 */
  gsize  torrentfile_avg;
  guint  starts;       /* W5 */
  guint  start_keys;   /* W5 and the RSS figure */
  guint  small_keys;   /* W6 */
  guint  large_keys;   /* W6 */
  guint  bulk_frames;  /* 1 MiB frames for the bulk limit */
  gsize  state_bytes;
  char **wrapper;      /* runs each host under this command (valgrind), or NULL */
  int    peer_cpu;     /* every peer runs on this CPU, or -1 (bench-main.c, pin) */
  char  *only;         /* run only this group: sets, gets, restore or scale */
} BenchConfig;

gboolean bench_run_all (const BenchConfig *config, BenchReport *report, GError **error);

/* ---- small statistics ---- */

gdouble bench_median (GArray *values);  /* gdouble; sorts in place */
gdouble bench_now    (void);            /* monotonic seconds */

G_END_DECLS
