/* SPDX-License-Identifier: MIT */
/* origin.c: recognising and validating the caller's origin. */
#include "base/origin.h"
#include "base/error.h"

#include <string.h>

#define CHROMIUM_SCHEME "chrome-extension://"
#define CHROMIUM_ID_LEN 32
/* Mozilla's ids are a GUID in braces or an email-like name; both fit. */
#define FIREFOX_ID_MAX 128

gboolean
nms_origin_is_chromium_id (const char *id)
{
  gsize i;

  if (strlen (id) != CHROMIUM_ID_LEN)
    return FALSE;
  for (i = 0; i < CHROMIUM_ID_LEN; i++)
    if (id[i] < 'a' || id[i] > 'p')
      return FALSE;
  return TRUE;
}

static gboolean
is_firefox_id (const char *id)
{
  gsize len = strlen (id), i;
  const char *at;

  if (len == 0 || len > FIREFOX_ID_MAX)
    return FALSE;
  if (id[0] == '{')
    {
      /* {xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx} */
      static const char shape[] = "{hhhhhhhh-hhhh-hhhh-hhhh-hhhhhhhhhhhh}";
      if (len != sizeof shape - 1)
        return FALSE;
      for (i = 0; i < len; i++)
        {
          if (shape[i] == 'h' ? !g_ascii_isxdigit (id[i]) : id[i] != shape[i])
            return FALSE;
        }
      return TRUE;
    }
  at = strchr (id, '@');
  if (at == NULL || at == id + len - 1 || strchr (at + 1, '@') != NULL)
    return FALSE;
  for (i = 0; i < len; i++)
    if (!g_ascii_isalnum (id[i]) && strchr ("-._@+", id[i]) == NULL)
      return FALSE;
  /* Leading dots would make a hidden directory; refuse them outright. */
  return id[0] != '.';
}

static NmsOrigin *
origin_new (NmsOriginKind kind, const char *id)
{
  NmsOrigin *origin = g_new0 (NmsOrigin, 1);

  origin->kind = kind;
  origin->id = g_strdup (id);
  if (kind == NMS_ORIGIN_CHROMIUM)
    {
      origin->canonical = g_strconcat (CHROMIUM_SCHEME, id, "/", NULL);
      origin->dirname = g_strconcat ("chromium-", id, NULL);
    }
  else
    {
      origin->canonical = g_strdup (id);
      origin->dirname = g_strconcat ("firefox-", id, NULL);
    }
  return origin;
}

/* Accepts "chrome-extension://ID/" (the slash may be left off), a bare
 * Chromium id (what chrome://extensions shows, so a person can paste it),
 * or a Firefox add-on id, and nothing else. A Firefox id always holds '@'
 * or braces, so a bare Chromium id can never be mistaken for one. */
NmsOrigin *
nms_origin_parse (const char *text, GError **error)
{
  if (text == NULL || *text == '\0')
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_ORIGIN,
                   "no origin given: pass chrome-extension://<32 letters a-p>/ or a Firefox add-on id");
      return NULL;
    }
  if (g_str_has_prefix (text, CHROMIUM_SCHEME))
    {
      g_autofree char *id = g_strdup (text + strlen (CHROMIUM_SCHEME));
      gsize len = strlen (id);

      if (len > 0 && id[len - 1] == '/')
        id[len - 1] = '\0';
      if (!nms_origin_is_chromium_id (id))
        {
          g_set_error (error, NMS_ERROR, NMS_ERROR_ORIGIN,
                       "malformed Chromium origin \"%s\": the extension id must be 32 letters a to p, "
                       "as in chrome-extension://abcdefghijklmnopabcdefghijklmnop/", text);
          return NULL;
        }
      return origin_new (NMS_ORIGIN_CHROMIUM, id);
    }
  if (nms_origin_is_chromium_id (text))
    return origin_new (NMS_ORIGIN_CHROMIUM, text);
  if (is_firefox_id (text))
    return origin_new (NMS_ORIGIN_FIREFOX, text);

  g_set_error (error, NMS_ERROR, NMS_ERROR_ORIGIN,
               "malformed origin \"%s\": expected chrome-extension://<32 letters a-p>/, the 32-letter id alone, "
               "or a Firefox add-on id such as name@example.org or {GUID}", text);
  return NULL;
}

/* Chromium starts a host as `nmstore chrome-extension://ID/` (Windows adds
 * --parent-window=N); Firefox as `nmstore /path/to/manifest.json ADDON_ID`. */
gboolean
nms_origin_is_browser_argv (int argc, char **argv)
{
  if (argc >= 2 && g_str_has_prefix (argv[1], CHROMIUM_SCHEME))
    return TRUE;
  return argc == 3 && g_str_has_suffix (argv[1], ".json");
}

NmsOrigin *
nms_origin_from_argv (int argc, char **argv, GError **error)
{
  int i;

  if (argc >= 2 && g_str_has_prefix (argv[1], CHROMIUM_SCHEME))
    {
      for (i = 2; i < argc; i++)
        if (!g_str_has_prefix (argv[i], "--parent-window="))
          {
            g_set_error (error, NMS_ERROR, NMS_ERROR_ORIGIN,
                         "unexpected argument \"%s\" after the extension origin", argv[i]);
            return NULL;
          }
      return nms_origin_parse (argv[1], error);
    }
  if (argc == 3 && g_str_has_suffix (argv[1], ".json"))
    {
      if (!is_firefox_id (argv[2]))
        {
          g_set_error (error, NMS_ERROR, NMS_ERROR_ORIGIN,
                       "malformed Firefox add-on id \"%s\": expected name@example.org or {GUID}", argv[2]);
          return NULL;
        }
      return origin_new (NMS_ORIGIN_FIREFOX, argv[2]);
    }
  g_set_error (error, NMS_ERROR, NMS_ERROR_ORIGIN, "not started by a browser");
  return NULL;
}

NmsOrigin *
nms_origin_copy (const NmsOrigin *origin)
{
  return origin_new (origin->kind, origin->id);
}

void
nms_origin_free (NmsOrigin *origin)
{
  if (origin == NULL)
    return;
  g_free (origin->id);
  g_free (origin->canonical);
  g_free (origin->dirname);
  g_free (origin);
}
