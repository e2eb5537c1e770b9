/* SPDX-License-Identifier: MIT */
/* install.h: where each browser looks for a native-messaging host
 * manifest, and writing, finding and removing ours there.
 *
 * A target is one manifest file for one browser in one scope: the user's
 * own folders (under $HOME and $XDG_CONFIG_HOME), the system's (under
 * $NMSTORE_SYSTEM_ROOT, "/" unless a test sets it), or a Flatpak app's
 * private folder (~/.var/app/ID). Several browsers may share one file:
 * Opera reads Chrome's user folder, and Brave, Vivaldi and Opera read
 * Chrome's system folder. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define NMS_INSTALL_ROOT_ENV "NMSTORE_SYSTEM_ROOT"

typedef enum {
  NMS_INSTALL_CHROMIUM_FAMILY,  /* allowed_origins, started with the origin */
  NMS_INSTALL_FIREFOX_FAMILY,   /* allowed_extensions, started with manifest + add-on id */
} NmsInstallFamily;

typedef enum {
  NMS_INSTALL_USER,
  NMS_INSTALL_SYSTEM,
  NMS_INSTALL_FLATPAK,
} NmsInstallScope;

typedef struct _NmsInstallBrowser NmsInstallBrowser;

/* Where the user's and the system's folders are; read from the
 * environment once, so that a test can point them at a temporary tree. */
typedef struct {
  char *home;
  char *config_home;
  char *root;
  char *dir;   /* --dir: one NativeMessagingHosts folder of a browser not in the table, or NULL */
} NmsInstallEnv;

typedef struct {
  const NmsInstallBrowser *browser;
  NmsInstallScope          scope;
  char                    *dir;        /* the folder holding the manifest */
  char                    *path;       /* dir/org.nmstore.host.json */
  char                    *base;       /* system scope: the vendor folder above dir, or NULL */
  char                    *wrapper;    /* Flatpak: the script the manifest names, else NULL */
  gboolean                 detected;   /* the browser or its config folder is there */
  gboolean                 shared;     /* an earlier target has the same path */
} NmsInstallTarget;

/* What a manifest allows and where it points. */
typedef struct {
  const char  *binary;         /* absolute path of nmstore */
  const char **extension_ids;  /* Chromium-family ids besides the companion; NULL-terminated or NULL */
  const char **firefox_ids;    /* Firefox add-on ids besides the companion's; NULL-terminated or NULL */
} NmsInstallManifest;

NmsInstallEnv   *nms_install_env_new        (void);
void             nms_install_env_free       (NmsInstallEnv *env);

gsize            nms_install_n_browsers     (void);
const NmsInstallBrowser *nms_install_browser_nth (gsize i);
const NmsInstallBrowser *nms_install_browser_find (const char *name);
const char      *nms_install_browser_name   (const NmsInstallBrowser *browser);
const char      *nms_install_browser_title  (const NmsInstallBrowser *browser);
NmsInstallFamily nms_install_browser_family (const NmsInstallBrowser *browser);
const char      *nms_install_browser_flatpak_id (const NmsInstallBrowser *browser);
const char      *nms_install_browser_snap   (const NmsInstallBrowser *browser);
const char      *nms_install_scope_name     (NmsInstallScope scope);
/* The pseudo-browser of --dir: Chromium family, one folder, env->dir. */
const NmsInstallBrowser *nms_install_dir_browser (void);
/* Every browser's name, in table order, joined by separator (for help
 * text and errors: the table is the one list). */
char            *nms_install_browser_names  (const char *separator);
/* A --dir value: absolute, no "..", named NativeMessagingHosts (or
 * native-messaging-hosts), and (must_exist) its parent there. */
gboolean         nms_install_check_dir      (const char *dir, gboolean must_exist, GError **error);
/* ~/snap/NAME when this browser ships as a snap and that folder is
 * there (the snap has run for this user), else NULL. */
char            *nms_install_snap_dir       (const NmsInstallEnv *env, const NmsInstallBrowser *browser);

/* Parses --browser: "detected" (or NULL), "all", or a comma-separated
 * list of names. Returns the browsers, in table order; *named is TRUE
 * when the person listed them (or said all), so that install may create
 * folders that do not exist yet. */
GPtrArray       *nms_install_parse_browsers (const char *spec, gboolean *named, GError **error);

/* Every target of `browsers` in `scope`; user scope also yields each
 * browser's Flatpak target when that app's folder exists. */
GPtrArray       *nms_install_targets        (const NmsInstallEnv *env, GPtrArray *browsers,
                                             NmsInstallScope scope);
void             nms_install_target_free    (NmsInstallTarget *target);

char            *nms_install_manifest_json  (NmsInstallFamily family, const char *host_path,
                                             const NmsInstallManifest *manifest, GError **error);
gboolean         nms_install_write          (const NmsInstallTarget *target,
                                             const NmsInstallManifest *manifest, GError **error);
gboolean         nms_install_remove         (const NmsInstallTarget *target, gboolean *removed,
                                             GError **error);
gboolean         nms_install_check_extension_id (const char *id, GError **error);
gboolean         nms_install_check_firefox_id   (const char *id, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NmsInstallEnv, nms_install_env_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NmsInstallTarget, nms_install_target_free)

G_END_DECLS
