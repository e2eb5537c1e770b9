# SPDX-License-Identifier: MIT
# tests/lib.sh: helpers shared by tests/run.sh and its stages (sourced).

# nmt_apt_install PKG...: installs the Debian packages that are missing.
nmt_apt_install() {
  local missing=() p sudo=""
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "== installing: ${missing[*]}"
  if [ -z "${NMT_APT_UPDATED:-}" ]; then
    $sudo apt-get -o DPkg::Lock::Timeout=600 update -qq
    NMT_APT_UPDATED=1
  fi
  # Another apt (an unattended upgrade, say) may hold the lock: wait for it.
  DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}"
}
