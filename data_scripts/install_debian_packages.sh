#!/usr/bin/env bash
# Install the Debian packages the offline datasets are built from (idempotent), then verify them.
#
#   sudo bash data_scripts/install_debian_packages.sh     # on a bare Debian / Ubuntu machine too
#
# After installing, every package is checked (dpkg --verify: none of its files missing) and, when
# the project's Python environment exists (.venv, or $PYTHON), every source is checked for the
# files the builders need (data_scripts/build_datasets.py --verify-sources). A problem exits
# non-zero with a message naming the package.
# Without root or apt, print one line and exit 0: the builders then use the PyPI-only fallback.
set -euo pipefail
cd "$(dirname "$0")/.."
PACKAGES=(asterisk-moh-opsound-wav asterisk-core-sounds-en-wav hydrogen-drumkits minetest-data
          lincity-ng-data fluid-soundfont-gm libfluidsynth3 sound-theme-freedesktop
          wesnoth-1.16-music)
installed() { [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]; }
missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for p in "${PACKAGES[@]}"; do installed "$p" || missing+=("$p"); done
else
  missing=("${PACKAGES[@]}")
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "Cannot install ${missing[*]} (needs root and apt-get); datasets will use the PyPI-only fallback where possible."
    exit 0
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
fi

status=0
for p in "${PACKAGES[@]}"; do
  if ! installed "$p"; then
    echo "error: the Debian package '$p' is not installed after apt-get install" >&2
    status=1
    continue
  fi
  gone=$(dpkg --verify "$p" 2>&1 | grep -c '^missing' || true)
  if [ "$gone" -gt 0 ]; then
    echo "error: the Debian package '$p' is partial: $gone of its files are missing" \
         "(first: $(dpkg --verify "$p" 2>&1 | grep '^missing' | head -n 1 | awk '{print $NF}'));" \
         "reinstall it: apt-get install --reinstall $p" >&2
    status=1
  fi
done
[ $status -eq 0 ] || exit $status

PY="${PYTHON:-.venv/bin/python}"
if [ -x "$PY" ] && "$PY" -c "import audioformers" >/dev/null 2>&1; then
  env -u AUDIOFORMERS_PYPI_FALLBACK "$PY" data_scripts/build_datasets.py --verify-sources
else
  echo "All ${#PACKAGES[@]} Debian data packages are installed and complete" \
       "(the builders' own check runs with \`make data\`, once .venv exists)."
fi
