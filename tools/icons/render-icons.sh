#!/usr/bin/env bash
# Renders RegionChat's application icon to the PNG sizes desktops look up
# (resources/desktop/icons/hicolor/NxN/apps/). The 16 and 24 pixel sizes come from the
# redrawn small icon (regionchat-small.svg), the others from the scalable one. Needs
# rsvg-convert (Debian: librsvg2-bin); the PNGs are committed, so builds do not need it.
set -euo pipefail
icons="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../resources/desktop/icons" && pwd)"
id=io.github.regionchat.RegionChat
big="$icons/hicolor/scalable/apps/$id.svg"
small="$icons/regionchat-small.svg"
for size in 16 24 32 48 64 128 256 512; do
  src="$big"
  if [ "$size" -le 24 ]; then src="$small"; fi
  mkdir -p "$icons/hicolor/${size}x${size}/apps"
  rsvg-convert -w "$size" -h "$size" "$src" -o "$icons/hicolor/${size}x${size}/apps/$id.png"
done
echo "render-icons: wrote $(ls "$icons"/hicolor/*x*/apps/$id.png | wc -l) sizes under $icons/hicolor"
