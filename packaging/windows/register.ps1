# SPDX-License-Identifier: MIT
# register.ps1: registers nmstore with Chrome, Chromium, Edge and Firefox
# for the current user on Windows, or removes it with -Uninstall.
# UNTESTED: no Windows machine is available to this project's CI; see the
# README.
#
# Windows browsers find a host through a registry key whose default value
# is the manifest's full path:
#   HKCU\Software\Google\Chrome\NativeMessagingHosts\org.nmstore.host
#   HKCU\Software\Chromium\NativeMessagingHosts\org.nmstore.host
#   HKCU\Software\Microsoft\Edge\NativeMessagingHosts\org.nmstore.host
#   HKCU\Software\Mozilla\NativeMessagingHosts\org.nmstore.host
# LibreWolf reads Mozilla's key (KeePassXC's installer registers it there),
# so it needs no key of its own. The drop-ins of `nmstore extensions` are
# Linux only; on Windows pass their ids with -ExtensionId.
#
#   register.ps1 -InstallDir DIR [-ExtensionId ID]... [-FirefoxId ID] [-Uninstall]
param(
  [Parameter(Mandatory = $true)][string]$InstallDir,
  [string[]]$ExtensionId = @(),
  [string]$FirefoxId = "nmstore@nmstore.org",
  [switch]$Uninstall
)
$ErrorActionPreference = "Stop"
$HostName = "org.nmstore.host"
$Companion = "hfjlljhbgdcnhkaehjemmbcjndfgaeea"
$Exe = Join-Path $InstallDir "nmstore.exe"
$Keys = @{
  "chromium" = @("HKCU:\Software\Google\Chrome", "HKCU:\Software\Chromium", "HKCU:\Software\Microsoft\Edge")
  "firefox"  = @("HKCU:\Software\Mozilla")
}

foreach ($family in $Keys.Keys) {
  $dir = Join-Path $InstallDir "manifests\$family"
  $file = Join-Path $dir "$HostName.json"
  if ($Uninstall) {
    foreach ($base in $Keys[$family]) {
      Remove-Item -Path "$base\NativeMessagingHosts\$HostName" -ErrorAction SilentlyContinue
    }
    Remove-Item -Path $file -ErrorAction SilentlyContinue
    continue
  }
  $manifest = [ordered]@{
    name        = $HostName
    description = "nmstore: a durable key-value store for browser extensions"
    path        = $Exe
    type        = "stdio"
  }
  if ($family -eq "firefox") {
    $manifest["allowed_extensions"] = @($FirefoxId)
  } else {
    $ids = @($Companion) + $ExtensionId | Select-Object -Unique
    $manifest["allowed_origins"] = @($ids | ForEach-Object { "chrome-extension://$_/" })
  }
  New-Item -ItemType Directory -Force -Path $dir | Out-Null
  # UTF-8 without a byte-order mark: a browser rejects a manifest that has one.
  $json = $manifest | ConvertTo-Json -Depth 3
  [System.IO.File]::WriteAllText($file, $json, (New-Object System.Text.UTF8Encoding $false))
  foreach ($base in $Keys[$family]) {
    $key = "$base\NativeMessagingHosts\$HostName"
    New-Item -Path $key -Force | Out-Null
    Set-Item -Path $key -Value $file
    Write-Output "registered $key -> $file"
  }
}
