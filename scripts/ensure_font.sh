#!/usr/bin/env bash
# The tests render Chinese text into images; they need a CJK font from Debian's packages.
set -u
FONT=/usr/share/fonts/truetype/wqy/wqy-microhei.ttc
[ -f "$FONT" ] && exit 0
echo "installing fonts-wqy-microhei (Debian) for the recognition tests" >&2
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
$SUDO apt-get install -y -q fonts-wqy-microhei >/dev/null 2>&1 || {
  $SUDO apt-get update -q >/dev/null 2>&1 && $SUDO apt-get install -y -q fonts-wqy-microhei >/dev/null 2>&1; }
[ -f "$FONT" ] || { echo "could not install fonts-wqy-microhei; the recognition tests will fail" >&2; exit 1; }
