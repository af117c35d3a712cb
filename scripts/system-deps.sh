#!/usr/bin/env bash
# Install the Debian packages omicsd uses, when they are missing and we may install them.
#   util-linux (unshare)  network isolation of RESTRICTED runs
#   bubblewrap            preferred network isolation (optional; unshare is the fallback)
#   nodejs                JavaScript expressions in CWL workflows
#   git                   definitionRepository sources
# Set OMICSD_SKIP_SYSTEM_DEPS=1 to skip (for example on a machine managed by someone else).
set -euo pipefail
[ "${OMICSD_SKIP_SYSTEM_DEPS:-0}" = "1" ] && exit 0
need=()
command -v unshare >/dev/null 2>&1 || need+=(util-linux)
command -v bwrap >/dev/null 2>&1 || need+=(bubblewrap)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v git >/dev/null 2>&1 || need+=(git)
[ ${#need[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "omicsd: please install: ${need[*]} (optional but recommended)" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    echo "omicsd: not root; please install: ${need[*]}" >&2
    exit 0
  fi
fi
echo "omicsd: installing system packages: ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null || true
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null || \
  echo "omicsd: could not install ${need[*]}; continuing without them" >&2
