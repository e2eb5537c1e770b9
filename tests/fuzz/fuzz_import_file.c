/* SPDX-License-Identifier: MIT */
/* fuzz_import_file.c: the streaming import of `nmstore import FILE`, end
 * to end. Arbitrary bytes are written to a file, which goes through the
 * same calls as the command: nms_archive_file_is_sealed, then the plain
 * import (archive-import.c) or, for a sealed export, the header reader and
 * the three passes over its records (archive-sealed-in.c), into a real
 * SQLite store in a temporary directory. Every failure must say why; the
 * store must stay usable. A sealed export is opened with the key-encryption
 * key of the seed in corpus/import_file/sealed (a key file of 32 '*'
 * bytes), so that mutations of it reach the list MAC and the records. */
#include "fuzz.h"
#include "archive/archive.h"
#include "crypto/crypto.h"
#include "store/store.h"

#include <glib/gstdio.h>
#include <string.h>

#define SEED_KEK_BYTE '*'

typedef struct {
  char     *dir;
  char     *file;
  NmsStore *store;
} Fixture;

static Fixture fixture;  /* the fuzzer's process-wide fixture */

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *store_dir = NULL;
  NmsStoreOptions options = { 0 };

  g_assert (nms_crypto_init (NULL));
  fixture.dir = g_dir_make_tmp ("nmstore-fuzz-file-XXXXXX", &error);
  g_assert (fixture.dir != NULL);
  fixture.file = g_build_filename (fixture.dir, "export.json", NULL);
  store_dir = g_build_filename (fixture.dir, "store", NULL);
  fixture.store = nms_store_open (store_dir, "chrome-extension://abcdefghijklmnopabcdefghijklmnop/", &options,
                                  &error);
  g_assert (fixture.store != NULL);
  return 0;
}

static void
assert_failed_with_reason (const GError *error)
{
  g_assert (error != NULL && error->message[0] != '\0');
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(GError) error = NULL;
  gboolean sealed = FALSE;
  guint64 n = 0;

  g_assert (g_file_set_contents (fixture.file, (const char *) data, (gssize) size, NULL));
  if (!nms_archive_file_is_sealed (fixture.file, &sealed, &error))
    {
      assert_failed_with_reason (error);
      return 0;
    }
  if (sealed)
    {
      g_autoptr(NmsArchiveSealedFile) f = nms_archive_sealed_file_open (fixture.file, &error);
      g_autoptr(NmsCryptoSecret) kek = nms_crypto_secret_new (NMS_CRYPTO_KEY_BYTES);

      if (f == NULL)
        {
          assert_failed_with_reason (error);
          return 0;
        }
      memset (nms_crypto_secret_data (kek), SEED_KEK_BYTE, NMS_CRYPTO_KEY_BYTES);
      nms_crypto_secret_set_len (kek, NMS_CRYPTO_KEY_BYTES);
      if (!nms_archive_sealed_file_import (f, kek, fixture.store, &n, NULL, NULL, &error))
        assert_failed_with_reason (error);
    }
  else if (!nms_archive_import_file (fixture.store, fixture.file, &n, NULL, NULL, &error))
    assert_failed_with_reason (error);
  /* Whatever happened, the store takes the next write. */
  g_clear_error (&error);
  {
    NmsItem item = { "fuzz:last", 9, NMS_VALUE_JSON, (const guint8 *) "1", 1 };
    g_assert (nms_store_set (fixture.store, &item, 1, &error));
  }
  return 0;
}
