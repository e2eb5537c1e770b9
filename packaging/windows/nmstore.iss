; SPDX-License-Identifier: MIT
; nmstore.iss: Inno Setup script for a per-user Windows install of nmstore.
; UNTESTED: no Windows machine is available to this project's CI; see the
; README. Build nmstore.exe first (for example with MSYS2's MinGW, which
; packages GLib, cJSON, libsodium and SQLite), put it and its DLLs in
; build-windows\dist, then run: iscc packaging\windows\nmstore.iss
; The build (in build-windows) also writes register.ps1 from
; register.ps1.in, filling in the registry keys of the browser table in
; host/admin/browsers.c (packaging/browsers.cmake).
;
; A per-user install (no administrator rights) writes only HKCU keys,
; through register.ps1, and removes them on uninstall.

#define AppVersion "0.1.0"

[Setup]
AppId=org.nmstore.host
AppName=nmstore
AppVersion={#AppVersion}
AppPublisher=nmstore
DefaultDirName={localappdata}\Programs\nmstore
PrivilegesRequired=lowest
DisableProgramGroupPage=yes
OutputBaseFilename=nmstore-{#AppVersion}-setup
OutputDir=..\..\build-windows

[Files]
Source: "..\..\build-windows\dist\*"; DestDir: "{app}"; Flags: recursesubdirs
Source: "..\..\build-windows\packaging\windows\register.ps1"; DestDir: "{app}"

[Run]
Filename: "powershell.exe"; \
  Parameters: "-NoProfile -ExecutionPolicy Bypass -File ""{app}\register.ps1"" -InstallDir ""{app}"""; \
  Flags: runhidden; StatusMsg: "Registering nmstore with the browsers..."

[UninstallRun]
Filename: "powershell.exe"; \
  Parameters: "-NoProfile -ExecutionPolicy Bypass -File ""{app}\register.ps1"" -InstallDir ""{app}"" -Uninstall"; \
  Flags: runhidden; RunOnceId: "UnregisterNmstore"

[UninstallDelete]
Type: filesandordirs; Name: "{app}\manifests"
