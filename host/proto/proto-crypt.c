/* SPDX-License-Identifier: MIT */
/* proto-crypt.c: the operations of encrypted origins, unlock and lock.
 * Whether an origin is encrypted and locked is in hello's reply. */
#define _GNU_SOURCE /* memmem: glibc declares it only then */
#include "proto-common.h"
#include "base/error.h"
#include "base/os.h"

#include <sodium.h>
#include <string.h>

/* {"op":"unlock","passphrase":"..."}; without a passphrase, an origin
 * whose key is in a key file or the keyring loads it again. */
static gboolean
op_unlock (NmsProto *proto, NmsRequest *req, GString *result, GError **error)
{
  cJSON *pass = cJSON_GetObjectItemCaseSensitive (req->root, "passphrase");
  g_autoptr(NmsCryptoSecret) secret = NULL;
  gboolean ok;

  if (pass != NULL && !cJSON_IsNull (pass))
    {
      gsize len;

      if (!cJSON_IsString (pass))
        {
          g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST, "unlock: \"passphrase\" must be a string");
          return FALSE;
        }
      len = strlen (pass->valuestring);
      secret = nms_crypto_secret_new (len);
      memcpy (nms_crypto_secret_data (secret), pass->valuestring, len);
      nms_crypto_secret_set_len (secret, len);
      /* The request's own copy goes now; the frame it came in is reused
       * for the next request. */
      sodium_memzero (pass->valuestring, len);
    }
  ok = nms_store_unlock (proto->store, secret, error);
  if (ok)
    g_info ("unlocked %s", nms_store_path (proto->store));
  else if (g_error_matches (*error, NMS_ERROR, NMS_ERROR_AUTH))
    g_message ("unlock of %s refused: %s", nms_store_path (proto->store), (*error)->message);
  return ok;
}

/* Core dumps off before a secret is parsed: no key may be loaded yet, so
 * nothing else has turned them off. */
void
_nms_proto_secret_guard (void)
{
  g_autoptr(GError) error = NULL;

  if (!nms_os_disable_core_dumps (&error))
    g_warning ("a passphrase is in memory but %s", error->message);
}

/* memmem, not memchr for the first letter then memcmp: base64 text is
 * full of "u" and "p", and a frame of 100 sets of 3.5 KB values stopped
 * at each of them, 174 µs a frame against memmem's 40. */
static gboolean
contains (const guint8 *data, gsize len, const char *word)
{
  return memmem (data, len, word, strlen (word)) != NULL;
}

/* Cheap, on the raw bytes (NUL included): the op's name or the member's.
 * A request that spells both with \u escapes is recognised only once
 * parsed (proto.c). */
gboolean
_nms_proto_secret_frame (const guint8 *data, gsize len)
{
  if (!contains (data, len, "unlock") && !contains (data, len, "passphrase"))
    return FALSE;
  _nms_proto_secret_guard ();
  return TRUE;
}

/* cJSON frees its strings without wiping them: every string of a secret
 * request, member names too (a passphrase can hide in one), is wiped
 * first. cJSON's nesting limit bounds the recursion. */
void
_nms_proto_wipe_tree (cJSON *node)
{
  for (; node != NULL; node = node->next)
    {
      if (node->valuestring != NULL)
        sodium_memzero (node->valuestring, strlen (node->valuestring));
      if (node->string != NULL && !(node->type & cJSON_StringIsConst))
        sodium_memzero (node->string, strlen (node->string));
      _nms_proto_wipe_tree (node->child);
    }
}

static gboolean
op_lock (NmsProto *proto, NmsRequest *req, GString *result, GError **error)
{
  nms_store_lock (proto->store);
  return TRUE;
}

/* The command line's way in: it asks a person for the passphrase and
 * unlocks the store itself, where a browser sends the unlock op. */
NmsStore *
nms_proto_store (NmsProto *proto)
{
  return _nms_proto_ensure_store (proto) ? proto->store : NULL;
}

const NmsOpDef nms_proto_crypt_ops[] = {
  /* name      run        writes uses_store barrier secret */
  { "unlock",  op_unlock, FALSE, TRUE,  TRUE,   TRUE, .alone = TRUE },
  { "lock",    op_lock,   FALSE, TRUE,  TRUE,   FALSE },
  { NULL }
};
