#!/usr/bin/env bash
# Debian's chromium for the operator UI's browser tests (Playwright drives it by path; no browser is downloaded).
# Safe to re-run: does nothing when chromium is on PATH.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "retort: the browser tests need Debian's chromium (apt-get install chromium); this machine has no apt-get" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "retort: installing Debian's chromium for the browser tests (first time: about a minute)" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y -q chromium >/dev/null 2>&1 || { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q chromium >/dev/null; }
command -v chromium >/dev/null
