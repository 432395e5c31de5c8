#!/usr/bin/env bash
# Install the Debian packages the offline datasets are built from (idempotent).
# Without root or apt, print one line and exit 0: the builders then use the PyPI-only fallback.
set -euo pipefail
PACKAGES=(asterisk-moh-opsound-wav asterisk-core-sounds-en-wav hydrogen-drumkits minetest-data
          lincity-ng-data fluid-soundfont-gm libfluidsynth3 sound-theme-freedesktop)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "All ${#PACKAGES[@]} Debian data packages are installed."
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "Cannot install ${missing[*]} (needs root and apt-get); datasets will use the PyPI-only fallback where possible."
  exit 0
fi
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
