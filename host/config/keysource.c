/* SPDX-License-Identifier: MIT */
/* keysource.c: key files, the desktop keyring and reading a passphrase
 * (keysource.h). Each hands back the 32-byte KEK, or the passphrase, in
 * guarded memory; none keeps a copy. */
#include "config/keysource.h"
#include "base/error.h"
#include "base/hex.h"
#include "base/os.h"

#include <string.h>

#ifdef NMSTORE_HAVE_LIBSECRET
#include <gmodule.h>
#include <libsecret/secret.h>
#endif

char *
nms_keysource_key_file_path (const char *store_dir, const char *key_file)
{
  if (key_file != NULL)
    return g_strdup (key_file);
  return g_build_filename (store_dir, NMS_KEYSOURCE_KEY_FILE_NAME, NULL);
}

/* A key file is 32 raw random bytes: nothing to parse, and a file of any
 * other length is certainly not one. */
NmsCryptoSecret *
nms_keysource_key_file_create (const char *path, GError **error)
{
  g_autoptr(NmsCryptoSecret) kek = nms_crypto_secret_new_random (NMS_CRYPTO_KEY_BYTES);

  if (!nms_os_write_new_private_file (path, nms_crypto_secret_peek (kek), NMS_CRYPTO_KEY_BYTES, error))
    return NULL;
  return g_steal_pointer (&kek);
}

NmsCryptoSecret *
nms_keysource_key_file_load (const char *path, GError **error)
{
  /* One byte of room tells a longer file from a key file. */
  g_autoptr(NmsCryptoSecret) kek = nms_crypto_secret_new (NMS_CRYPTO_KEY_BYTES + 1);
  gsize n = 0;

  if (!nms_os_read_private_file (path, nms_crypto_secret_data (kek), NMS_CRYPTO_KEY_BYTES + 1, &n, error))
    return NULL;
  if (n != NMS_CRYPTO_KEY_BYTES)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_AUTH, "%s has %" G_GSIZE_FORMAT " bytes, not the %u of a key file",
                   path, n, (unsigned) NMS_CRYPTO_KEY_BYTES);
      return NULL;
    }
  nms_crypto_secret_set_len (kek, n);
  return g_steal_pointer (&kek);
}

NmsCryptoSecret *
nms_keysource_read_passphrase (int fd, const char *prompt, GError **error)
{
  g_autoptr(NmsCryptoSecret) passphrase = nms_crypto_secret_new (NMS_KEYSOURCE_PASSPHRASE_MAX + 1);
  gsize len = 0;

  if (!nms_os_read_passphrase (fd, prompt, (char *) nms_crypto_secret_data (passphrase),
                               NMS_KEYSOURCE_PASSPHRASE_MAX + 1, &len, error))
    return NULL;
  if (len == 0)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_AUTH, "the passphrase is empty");
      return NULL;
    }
  nms_crypto_secret_set_len (passphrase, len);
  return g_steal_pointer (&passphrase);
}

#ifdef NMSTORE_HAVE_LIBSECRET

/* libsecret is loaded when the keyring is used, not linked: it and the
 * libraries it pulls in (libgcrypt, libgpg-error) made every host start,
 * for every origin, 0.6-0.8 ms slower (7.9-8.8 against 7.2-8.0 ms to the first
 * hello reply), and only encrypt, passwd and the opening of a keyring
 * origin use it. The soname is the one the headers here describe. */
#define LIBSECRET_SONAME "libsecret-1.so.0"

/* Typed from libsecret's own declarations, so that the compiler checks
 * every call through them. */
typedef struct {
  GModule                                          *module;
  __typeof__ (secret_value_new)                    *value_new;
  __typeof__ (secret_value_get)                    *value_get;
  __typeof__ (secret_value_unref)                  *value_unref;
  __typeof__ (secret_password_storev_binary_sync)  *store;
  __typeof__ (secret_password_lookupv_binary_sync) *lookup;
  __typeof__ (secret_password_clearv_sync)         *clear;
} Libsecret;

/* Fills lib, or says why the keyring cannot be used. The module stays
 * loaded for the life of the process (g_module_make_resident): libsecret
 * registers GObject types, which must never be unloaded. */
static gboolean
libsecret_load (Libsecret *lib, GError **error)
{
  const struct {
    const char *name;
    gpointer   *slot;
  } symbols[] = {
    { "secret_value_new", (gpointer *) &lib->value_new },
    { "secret_value_get", (gpointer *) &lib->value_get },
    { "secret_value_unref", (gpointer *) &lib->value_unref },
    { "secret_password_storev_binary_sync", (gpointer *) &lib->store },
    { "secret_password_lookupv_binary_sync", (gpointer *) &lib->lookup },
    { "secret_password_clearv_sync", (gpointer *) &lib->clear },
  };
  gsize i;

  lib->module = g_module_open (LIBSECRET_SONAME, G_MODULE_BIND_LAZY | G_MODULE_BIND_LOCAL);
  if (lib->module == NULL)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_CONFIG,
                   "the desktop keyring needs %s, which cannot be loaded (%s); install libsecret "
                   "(Debian: libsecret-1-0), or use --passphrase or --key-file",
                   LIBSECRET_SONAME, g_module_error ());
      return FALSE;
    }
  g_module_make_resident (lib->module);
  for (i = 0; i < G_N_ELEMENTS (symbols); i++)
    if (!g_module_symbol (lib->module, symbols[i].name, symbols[i].slot) || *symbols[i].slot == NULL)
      {
        g_set_error (error, NMS_ERROR, NMS_ERROR_CONFIG,
                     "the installed %s has no %s (libsecret 0.19 or later has it); upgrade libsecret, or use "
                     "--passphrase or --key-file", LIBSECRET_SONAME, symbols[i].name);
        return FALSE;
      }
  return TRUE;
}

static const SecretSchema *
key_schema (void)
{
  /* Static const data, not state: libsecret's own idiom for a schema. */
  static const SecretSchema schema = {
    .name = "org.nmstore.host.StoreKey",
    .flags = SECRET_SCHEMA_NONE,
    .attributes = { { "store-id", SECRET_SCHEMA_ATTRIBUTE_STRING }, { NULL, 0 } },
  };
  return &schema;
}

/* The one attribute every entry of nmstore's carries. */
static GHashTable *
key_attributes (const char *id)
{
  GHashTable *attributes = g_hash_table_new (g_str_hash, g_str_equal);

  g_hash_table_insert (attributes, (gpointer) "store-id", (gpointer) id);
  return attributes;
}

static void
keyring_error (GError **error, GError *cause, const char *doing)
{
  g_set_error (error, NMS_ERROR, NMS_ERROR_AUTH,
               "cannot %s in the desktop keyring: %s; check that a Secret Service (GNOME Keyring, KWallet) "
               "runs and is unlocked", doing, cause ? cause->message : "no answer");
}

gboolean
nms_keysource_keyring_built (void)
{
  return TRUE;
}

NmsCryptoSecret *
nms_keysource_keyring_create (const guint8 store_id[NMS_CRYPTO_STORE_ID_BYTES], const char *label, GError **error)
{
  g_autoptr(NmsCryptoSecret) kek = nms_crypto_secret_new_random (NMS_CRYPTO_KEY_BYTES);
  g_autofree char *id = nms_hex_encode (store_id, NMS_CRYPTO_STORE_ID_BYTES);
  g_autoptr(GHashTable) attributes = key_attributes (id);
  g_autoptr(GError) local = NULL;
  SecretValue *value;
  Libsecret lib;
  gboolean stored;

  if (!libsecret_load (&lib, error))
    return NULL;
  /* libsecret copies the value into its own non-pageable memory. */
  value = lib.value_new ((const char *) nms_crypto_secret_peek (kek), NMS_CRYPTO_KEY_BYTES,
                         "application/octet-stream");
  stored = lib.store (key_schema (), attributes, SECRET_COLLECTION_DEFAULT, label, value, NULL, &local);
  lib.value_unref (value);
  if (!stored)
    {
      keyring_error (error, local, "save the store's key");
      return NULL;
    }
  return g_steal_pointer (&kek);
}

NmsCryptoSecret *
nms_keysource_keyring_load (const guint8 store_id[NMS_CRYPTO_STORE_ID_BYTES], GError **error)
{
  g_autofree char *id = nms_hex_encode (store_id, NMS_CRYPTO_STORE_ID_BYTES);
  g_autoptr(GHashTable) attributes = key_attributes (id);
  g_autoptr(GError) local = NULL;
  g_autoptr(NmsCryptoSecret) kek = NULL;
  SecretValue *value;
  const char *bytes;
  gsize len = 0;
  Libsecret lib;

  if (!libsecret_load (&lib, error))
    return NULL;
  value = lib.lookup (key_schema (), attributes, NULL, &local);
  if (value == NULL)
    {
      if (local != NULL)
        keyring_error (error, local, "look up the store's key");
      else
        g_set_error (error, NMS_ERROR, NMS_ERROR_AUTH,
                     "the desktop keyring holds no key for this store (store id %s); it may have been "
                     "encrypted in another session or on another machine", id);
      return NULL;
    }
  bytes = lib.value_get (value, &len);
  if (len != NMS_CRYPTO_KEY_BYTES)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_AUTH,
                   "the desktop keyring's entry for store %s has %" G_GSIZE_FORMAT " bytes, not a key's %u",
                   id, len, (unsigned) NMS_CRYPTO_KEY_BYTES);
      lib.value_unref (value);
      return NULL;
    }
  kek = nms_crypto_secret_new (NMS_CRYPTO_KEY_BYTES);
  memcpy (nms_crypto_secret_data (kek), bytes, NMS_CRYPTO_KEY_BYTES);
  nms_crypto_secret_set_len (kek, NMS_CRYPTO_KEY_BYTES);
  lib.value_unref (value);
  return g_steal_pointer (&kek);
}

gboolean
nms_keysource_keyring_delete (const guint8 store_id[NMS_CRYPTO_STORE_ID_BYTES], GError **error)
{
  g_autofree char *id = nms_hex_encode (store_id, NMS_CRYPTO_STORE_ID_BYTES);
  g_autoptr(GHashTable) attributes = key_attributes (id);
  g_autoptr(GError) local = NULL;
  Libsecret lib;

  if (!libsecret_load (&lib, error))
    return FALSE;
  /* FALSE without an error means there was nothing to delete. */
  if (!lib.clear (key_schema (), attributes, NULL, &local) && local != NULL)
    {
      keyring_error (error, local, "remove the store's key");
      return FALSE;
    }
  return TRUE;
}

#else /* !NMSTORE_HAVE_LIBSECRET */

static void
not_built (GError **error)
{
  g_set_error (error, NMS_ERROR, NMS_ERROR_CONFIG,
               "this nmstore was built without libsecret, so it cannot use the desktop keyring; "
               "use --passphrase or --key-file, or rebuild with libsecret-1 installed");
}

gboolean
nms_keysource_keyring_built (void)
{
  return FALSE;
}

NmsCryptoSecret *
nms_keysource_keyring_create (const guint8 store_id[NMS_CRYPTO_STORE_ID_BYTES], const char *label, GError **error)
{
  not_built (error);
  return NULL;
}

NmsCryptoSecret *
nms_keysource_keyring_load (const guint8 store_id[NMS_CRYPTO_STORE_ID_BYTES], GError **error)
{
  not_built (error);
  return NULL;
}

gboolean
nms_keysource_keyring_delete (const guint8 store_id[NMS_CRYPTO_STORE_ID_BYTES], GError **error)
{
  not_built (error);
  return FALSE;
}

#endif

NmsCryptoSecret *
nms_keysource_load_kek (const NmsCryptoEnvelope *envelope, const NmsCryptoSecret *passphrase,
                        const char *store_dir, GError **error)
{
  g_autofree char *path = NULL;

  switch (envelope->source)
    {
    case NMS_CRYPTO_SOURCE_PASSPHRASE:
      if (passphrase == NULL)
        {
          g_set_error (error, NMS_ERROR, NMS_ERROR_LOCKED,
                       "this origin is encrypted with a passphrase and locked; unlock it with the passphrase");
          return NULL;
        }
      return nms_crypto_kek_from_passphrase (passphrase, envelope->salt, &envelope->limits, error);
    case NMS_CRYPTO_SOURCE_KEY_FILE:
      path = nms_keysource_key_file_path (store_dir, envelope->key_file);
      return nms_keysource_key_file_load (path, error);
    case NMS_CRYPTO_SOURCE_KEYRING:
      return nms_keysource_keyring_load (envelope->store_id, error);
    }
  g_set_error (error, NMS_ERROR, NMS_ERROR_CORRUPT, "the key record names an unknown key source");
  return NULL;
}

static NmsCryptoSecret *
store_load_kek (const NmsCryptoEnvelope *envelope, const NmsCryptoSecret *passphrase, const char *store_dir,
                gpointer user_data, GError **error)
{
  return nms_keysource_load_kek (envelope, passphrase, store_dir, error);
}

/* An existing key file is used as it is, so several stores can share
 * one. */
static NmsCryptoSecret *
store_create_kek (const NmsCryptoEnvelope *envelope, const NmsCryptoSecret *passphrase, const char *store_dir,
                  gpointer user_data, GError **error)
{
  g_autofree char *path = NULL;

  switch (envelope->source)
    {
    case NMS_CRYPTO_SOURCE_PASSPHRASE:
      if (passphrase == NULL)
        {
          g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST, "a passphrase is needed");
          return NULL;
        }
      return nms_crypto_kek_from_passphrase (passphrase, envelope->salt, &envelope->limits, error);
    case NMS_CRYPTO_SOURCE_KEY_FILE:
      path = nms_keysource_key_file_path (store_dir, envelope->key_file);
      if (g_file_test (path, G_FILE_TEST_EXISTS))
        return nms_keysource_key_file_load (path, error);
      return nms_keysource_key_file_create (path, error);
    case NMS_CRYPTO_SOURCE_KEYRING:
      {
        g_autofree char *label = g_strdup_printf ("nmstore key for %s", store_dir);
        return nms_keysource_keyring_create (envelope->store_id, label, error);
      }
    }
  g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST, "unknown key source");
  return NULL;
}

/* A key file may be shared by other stores, and a passphrase leaves
 * nothing behind: only a keyring entry belongs to one store alone. */
static gboolean
store_forget_kek (NmsCryptoSource source, const guint8 store_id[NMS_CRYPTO_STORE_ID_BYTES], gpointer user_data,
                  GError **error)
{
  if (source != NMS_CRYPTO_SOURCE_KEYRING)
    return TRUE;
  return nms_keysource_keyring_delete (store_id, error);
}

const NmsStoreKeys *
nms_keysource_store_keys (void)
{
  /* Static const data, not state, like the keyring's schema. */
  static const NmsStoreKeys keys = {
    .load_kek = store_load_kek,
    .create_kek = store_create_kek,
    .forget_kek = store_forget_kek,
  };
  return &keys;
}
