#!/usr/bin/env bash
# The run report's test opens the page in headless Chromium (Debian's chromium package).
set -u
command -v chromium >/dev/null 2>&1 && exit 0
echo "installing chromium (Debian) for the run report's test" >&2
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
$SUDO apt-get install -y -q chromium >/dev/null 2>&1 || {
  $SUDO apt-get update -q >/dev/null 2>&1 && $SUDO apt-get install -y -q chromium >/dev/null 2>&1; }
command -v chromium >/dev/null 2>&1 || {
  echo "could not install chromium (apt-get install chromium); the run report's test will fail" >&2; exit 1; }
