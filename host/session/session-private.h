/* SPDX-License-Identifier: MIT */
/* session-private.h: what the files of host/session/ share: session-forms.c
 * (one key's value in its forms), session.c (reading the session, removal),
 * session-reply.c (restore, summary) and session-fix.c (check, repair and
 * migration). Not installed. */
#pragma once

#include "session/bencode.h"
#include "session/session.h"

/* One stored value, copied out of the store. */
typedef struct {
  gboolean     found;
  NmsValueKind kind;
  GBytes      *value;
} SessionRaw;

typedef struct {
  char        *hash;          /* as the index spells it */
  cJSON       *entry;         /* the index entry (owned by the session's index) */
  cJSON       *state;         /* parsed, or NULL */
  SessionRaw   state_raw;
  GBytes      *torrentfile;   /* the bencode bytes, or NULL when missing or broken */
  GBytes      *infodict;
  gboolean     torrentfile_stored, infodict_stored;
  gboolean     torrentfile_ok, infodict_ok;  /* stored, decoded and (when verifying) matching */
  NmsMetainfo  meta;
  gboolean     has_meta;
  gboolean     bitfield_ok;   /* FALSE when present but not matching the pieces */
} SessionTorrent;

typedef struct {
  NmsStore   *store;
  char       *prefix;
  char       *index_key;
  SessionRaw  index_raw;
  cJSON      *index;       /* the parsed index, or NULL */
  int         version;     /* 0 when there is no usable index */
  GPtrArray  *torrents;    /* SessionTorrent*, in index order */
  GHashTable *by_hash;     /* lowercase hash -> SessionTorrent* */
  cJSON      *problems;    /* array of {code, infoHash, key, reason} */
  gboolean    for_check;   /* also list what is normal but incomplete */
  gboolean    verify;      /* hash metadata against the infohash (default) */
  gboolean    keep_bytes;  /* keep each torrent's metadata bytes (default) */
  const cJSON *list;       /* the index's "torrents", when it can be read */
} Session;

typedef gboolean (*SessionTorrentFunc) (Session *s, SessionTorrent *t, gpointer user_data, GError **error);

/* session-forms.c */
void     _nms_session_raw_clear   (SessionRaw *raw);
gboolean _nms_session_read        (NmsStore *store, const char *key, SessionRaw *raw, GError **error);
cJSON   *_nms_session_raw_json    (const SessionRaw *raw, const char **why);
GBytes  *_nms_session_raw_bencode (const SessionRaw *raw, NmsBencodeDoc **doc, const char **why);
gboolean _nms_session_write_json  (NmsStore *store, const char *key, NmsValueKind form, const cJSON *value, GError **error);

/* session.c */
char    *_nms_session_key         (const Session *s, const char *hash, const char *suffix);

Session *_nms_session_open        (NmsStore *store, const char *prefix, gboolean for_check, GError **error);
gboolean _nms_session_load_torrents (Session *s, SessionTorrentFunc each, gpointer user_data, GError **error);
Session *_nms_session_load        (NmsStore *store, const char *prefix, gboolean for_check, GError **error);
void     _nms_session_free        (Session *s);
cJSON   *_nms_session_problem     (Session *s, const char *code, const char *hash, const char *key,
                              const char *format, ...) G_GNUC_PRINTF (5, 6);
void     _nms_session_problem_is_info (cJSON *problem);
gboolean _nms_session_problem_counts  (const cJSON *problem);
gboolean _nms_session_entry_is_file   (const cJSON *entry);

SessionTorrent *_nms_session_torrent_read (Session *s, const char *hash, cJSON *entry, GError **error);
void            _nms_session_torrent_free (gpointer t);
gboolean        _nms_session_torrent_keys (NmsStore *store, const char *prefix, const char *hash,
                                      GPtrArray *keys, GError **error);
gboolean        _nms_session_collect_key  (const NmsItem *item, gpointer user_data, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Session, _nms_session_free)
