#!/usr/bin/env bash
# Makes sure a real browser is there for the web page tests (tests/web): Debian's `chromium` at
# /usr/bin/chromium, driven by Playwright. Installed with apt where this runs as root with apt;
# otherwise the browser tests skip with a reason (never a failure). PROVENANCE_NO_BROWSER=1 skips
# the install.
set -u
browser=${PROVENANCE_CHROMIUM:-/usr/bin/chromium}
if [ -x "$browser" ]; then exit 0; fi
if [ "${PROVENANCE_NO_BROWSER:-}" = 1 ]; then
  echo "PROVENANCE_NO_BROWSER=1: no Chromium installed; the browser tests will skip" >&2
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Chromium (apt-get install chromium) for the browser tests"
  if DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/tmp/ensure-chromium.log 2>&1 \
    || { DEBIAN_FRONTEND=noninteractive apt-get update -q >>/tmp/ensure-chromium.log 2>&1 \
         && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >>/tmp/ensure-chromium.log 2>&1; }; then
    exit 0
  fi
  echo "apt-get could not install chromium (see /tmp/ensure-chromium.log); the browser tests will skip" >&2
  exit 0
fi
echo "no Chromium at $browser and no root apt to install it (apt-get install chromium, as root);" \
  "the browser tests will skip" >&2
exit 0
