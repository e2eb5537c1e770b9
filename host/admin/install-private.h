/* SPDX-License-Identifier: MIT */
/* install-private.h: what browsers.c (where each browser looks) and
 * install.c (what is written there) share. */
#pragma once

#include "admin/install.h"
#include "nmstore/version.h"

G_BEGIN_DECLS

#define _NMS_INSTALL_MANIFEST_FILE NMS_HOST_NAME ".json"
#define _NMS_INSTALL_MAX_SYSTEM_DIRS 2
#define _NMS_INSTALL_MAX_BINARIES 4

typedef struct {
  const char *base;      /* absolute, under the root prefix */
  gboolean    if_exists; /* written only where base already exists */
} _NmsInstallSystemDir;

struct _NmsInstallBrowser {
  const char          *name;
  const char          *title;
  NmsInstallFamily     family;
  const char          *user_dir;      /* under $XDG_CONFIG_HOME, or $HOME for the Firefox family */
  const char          *config_dir;    /* the folder that shows the browser is used */
  _NmsInstallSystemDir system[_NMS_INSTALL_MAX_SYSTEM_DIRS];
  const char          *binaries[_NMS_INSTALL_MAX_BINARIES];
  const char          *flatpak_id;    /* NULL: no Flatpak of it is known */
  const char          *flatpak_dir;   /* under ~/.var/app/ID */
  const char          *snap;          /* the snap's name, when it ships as one */
  /* macOS and Windows: nmstore install knows the Linux folders only, so
   * these feed the installer scripts that packaging/browsers-fill.c
   * generates (the macOS postinstall, Windows' register.ps1). */
  const char          *macos_dir;     /* under ~/Library/Application Support; NULL: none known */
  gboolean             macos_always;  /* written even where that folder is absent (it has never run) */
  const char          *windows_key;   /* under HKCU, holding NativeMessagingHosts; NULL: no key of its own is written */
};

/* Fills an installer template from the table (browsers-fill.c): every
 * @NMSTORE_BROWSERS_...@ token becomes the list it names. */
char *_nms_install_browsers_fill (const char *text, GError **error);
/* One line per browser, tab-separated: name, family, the user folder as
 * the README's table writes it, the macOS folder, the Windows key and the
 * Flatpak id ("-" where there is none). The README's test reads it. */
char *_nms_install_browsers_table (void);

G_END_DECLS
