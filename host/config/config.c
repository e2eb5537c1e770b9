/* SPDX-License-Identifier: MIT */
/* config.c: the data root and nmstore.conf. */
#include "config/config.h"
#include "base/error.h"
#include "base/os.h"

/* nmstore.conf is a few lines; anything larger is not one. */
#define CONFIG_MAX_BYTES (1024 * 1024)

char *
nms_config_default_root (void)
{
  const char *home = g_getenv ("NMSTORE_HOME");

  if (home != NULL && *home != '\0')
    return g_canonicalize_filename (home, NULL);
  return g_build_filename (g_get_user_data_dir (), "nmstore", NULL);
}

/* An [events] count: a whole number from 1 up. */
static gboolean
load_count (GKeyFile *kf, const char *file, const char *name, guint *value, GError **error)
{
  g_autofree char *text = g_key_file_get_string (kf, "events", name, NULL);
  guint64 n = 0;

  if (text == NULL)
    return TRUE;
  if (!g_ascii_string_to_unsigned (g_strstrip (text), 10, 1, G_MAXINT32, &n, NULL))
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_CONFIG, "%s: [events] %s must be a whole number from 1 up",
                   file, name);
      return FALSE;
    }
  *value = (guint) n;
  return TRUE;
}

static gboolean
get_whole (GKeyFile *kf, const NmsConfig *config, const char *group, const char *key,
           guint64 min, guint64 max, guint64 *out, GError **error)
{
  g_autofree char *text = NULL;

  if (!g_key_file_has_key (kf, group, key, NULL))
    return TRUE;
  text = g_key_file_get_string (kf, group, key, NULL);
  if (text == NULL || !g_ascii_string_to_unsigned (g_strstrip (text), 10, min, max, out, NULL))
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_CONFIG, "%s: [%s] %s must be a whole number from %"
                   G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT, config->file, group, key, min, max);
      return FALSE;
    }
  return TRUE;
}

static gboolean
load_crypto (GKeyFile *kf, NmsConfig *config, GError **error)
{
  guint64 pad = config->pad_block, ops = config->pwhash.opslimit, mem = config->pwhash.memlimit;

  if (!get_whole (kf, config, "crypto", "pad_block", 1, NMS_CRYPTO_PAD_BLOCK_MAX, &pad, error)
      || !get_whole (kf, config, "crypto", "pwhash_opslimit", 1, G_MAXUINT32, &ops, error)
      || !get_whole (kf, config, "crypto", "pwhash_memlimit", 1, G_MAXSIZE, &mem, error))
    return FALSE;
  config->pad_block = (gsize) pad;
  config->pwhash.opslimit = ops;
  config->pwhash.memlimit = (gsize) mem;
  if (!nms_crypto_pwhash_check (&config->pwhash, error))
    {
      g_prefix_error (error, "%s: [crypto] ", config->file);
      return FALSE;
    }
  return TRUE;
}

static gboolean
load_file (NmsConfig *config, GError **error)
{
  g_autoptr(GKeyFile) kf = g_key_file_new ();
  g_autoptr(GError) local = NULL;
  g_autofree char *durability = NULL;
  g_autofree char *conf_text = NULL;
  gsize len = 0;

  /* Read without blocking and without following a link: a FIFO named
   * nmstore.conf must not hang the host before it answers anything. */
  if (!nms_os_read_regular_file (config->file, CONFIG_MAX_BYTES, &conf_text, &len, &local)
      || !g_key_file_load_from_data (kf, conf_text, len, G_KEY_FILE_NONE, &local))
    {
      /* A data root that is a file has no config either; the store then
       * fails to open, and the browser hears why as E_IO, not as a host
       * that died at start. */
      if (g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT)
          || g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOTDIR))
        return TRUE;
      g_set_error (error, NMS_ERROR, NMS_ERROR_CONFIG, "cannot read %s: %s", config->file, local->message);
      return FALSE;
    }

  durability = g_key_file_get_string (kf, "store", "durability", NULL);
  if (durability != NULL)
    {
      g_strstrip (durability);
      if (g_str_equal (durability, "normal"))
        config->durability = NMS_DURABILITY_NORMAL;
      else if (g_str_equal (durability, "full"))
        config->durability = NMS_DURABILITY_FULL;
      else
        {
          g_set_error (error, NMS_ERROR, NMS_ERROR_CONFIG,
                       "%s: [store] durability is \"%s\"; use normal or full", config->file, durability);
          return FALSE;
        }
    }

  if (g_key_file_has_key (kf, "store", "quota_bytes", NULL))
    {
      g_autofree char *text = g_key_file_get_string (kf, "store", "quota_bytes", NULL);
      guint64 quota = 0;

      if (text == NULL || !g_ascii_string_to_unsigned (g_strstrip (text), 10, 0, G_MAXINT64, &quota, NULL))
        {
          g_set_error (error, NMS_ERROR, NMS_ERROR_CONFIG,
                       "%s: [store] quota_bytes must be a whole number of bytes (0 for unlimited)", config->file);
          return FALSE;
        }
      config->quota_bytes = quota;
    }

  if (!load_count (kf, config->file, "keep_changes", &config->keep_changes, error)
      || !load_count (kf, config->file, "keep_seconds", &config->keep_seconds, error))
    return FALSE;

  if (!load_crypto (kf, config, error))
    return FALSE;
  config->log_file = g_key_file_get_string (kf, "log", "file", NULL);
  return TRUE;
}

/* Loads the configuration of the data root `root`, or of the default root
 * when root is NULL. A missing nmstore.conf means the defaults. */
NmsConfig *
nms_config_load (const char *root, GError **error)
{
  g_autoptr(NmsConfig) config = g_new0 (NmsConfig, 1);

  config->root = root ? g_canonicalize_filename (root, NULL) : nms_config_default_root ();
  config->file = g_build_filename (config->root, NMS_CONFIG_FILE_NAME, NULL);
  config->durability = NMS_DURABILITY_NORMAL;
  config->pad_block = NMS_CRYPTO_PAD_BLOCK_DEFAULT;
  config->pwhash = nms_crypto_pwhash_moderate ();
  if (!load_file (config, error))
    return NULL;
  return g_steal_pointer (&config);
}

void
nms_config_free (NmsConfig *config)
{
  if (config == NULL)
    return;
  g_free (config->root);
  g_free (config->file);
  g_free (config->log_file);
  g_free (config);
}

char *
nms_config_store_dir (const NmsConfig *config, const NmsOrigin *origin)
{
  return g_build_filename (config->root, origin->dirname, NULL);
}
