/* SPDX-License-Identifier: MIT */
/* protocheck.h: the protocol module (proto.h) run in process, for its
 * unit suites (test_proto*.c). */
#pragma once

#include <cjson/cJSON.h>
#include <glib.h>

#include "base/origin.h"
#include "config/config.h"
#include "proto/proto.h"

/* The cmocka fixture: a protocol over a new temporary data root. setup
 * puts one without a quota in *state; teardown frees it and its root. */
typedef struct {
  char      *home;
  NmsConfig *config;
  NmsOrigin *origin;
  NmsProto  *proto;
} NmtProtoFixture;

NmtProtoFixture *nmt_proto_fixture_new  (guint64 quota);
void             nmt_proto_fixture_free (NmtProtoFixture *f);
int              nmt_proto_setup        (void **state);
int              nmt_proto_teardown     (void **state);

/* What nms_proto_handle_batch handed to nmt_proto_emit, in order. */
typedef struct {
  GPtrArray *ids;    /* the id_json handed to emit */
  GPtrArray *texts;  /* the reply text */
} NmtReplies;

void nmt_replies_free (NmtReplies *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NmtReplies, nmt_replies_free)

/* The emit callback: checks that a reply is text, and keeps it. */
void        nmt_proto_emit       (const char *id_json, const char *json, gsize len, gpointer user_data);
/* Runs request bodies (data, len pairs; or NUL-terminated texts) as frames
 * that arrived together, every one served; one reply each. */
NmtReplies *nmt_proto_run_raw    (NmsProto *proto, const char *const *data, const gsize *lens, gsize n);
NmtReplies *nmt_proto_run        (NmsProto *proto, const char *const *requests, gsize n);
/* One request alone: its reply's text, or its reply parsed. */
char       *nmt_proto_call_text  (NmsProto *proto, const char *request);
cJSON      *nmt_proto_parse_reply (const char *text);
cJSON      *nmt_proto_call       (NmsProto *proto, const char *request);

/* object has exactly the members names (NULL-terminated). */
void nmt_assert_members      (const cJSON *object, const char *const *names);
/* ok:true with no error; or exactly {"id","ok":false,"error":{"code",
 * "message"}} with that code and a message; or that id. */
void nmt_proto_assert_ok     (const cJSON *reply);
void nmt_proto_assert_error  (const cJSON *reply, const char *code);
void nmt_proto_assert_id     (const cJSON *reply, const char *id_json);
void nmt_proto_call_ok       (NmsProto *proto, const char *request);
void nmt_proto_call_error    (NmsProto *proto, const char *request, const char *code);
/* The items a get request returns: as JSON compared by value, or as the
 * reply's exact text. */
void nmt_proto_assert_items      (NmsProto *proto, const char *request, const char *want_json);
void nmt_proto_assert_items_text (NmsProto *proto, const char *request, const char *want);
/* getBytesInUse of keys_json (NULL: every key); getKeys' list. */
guint64    nmt_proto_bytes_in_use (NmsProto *proto, const char *keys_json);
GPtrArray *nmt_proto_get_keys     (NmsProto *proto, const char *request);
