#!/usr/bin/env bash
# Screenshot an HTML report (e.g. `cadenza compare`'s report.html) with headless Chromium.
#
#   scripts/screenshot_report.sh REPORT.html OUT.png
#
# Installs the Debian package `chromium` with apt-get when it is missing (needs root). Fails
# when the page logs an error (a JavaScript exception, a resource that does not load) or when
# no screenshot comes out.
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 REPORT.html OUT.png" >&2
    exit 2
fi
report=$(realpath "$1")
out=$(realpath -m "$2")
[ -f "$report" ] || { echo "$0: $1: no such file" >&2; exit 1; }

browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
    echo "installing chromium with apt-get" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
    browser=$(command -v chromium)
fi

profile=$(mktemp -d)
log=$(mktemp)
trap 'rm -rf "$profile" "$log"' EXIT
rm -f "$out"
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" --enable-logging=stderr --v=0 \
    --screenshot="$out" --window-size=1400,3000 "file://$report" >"$log" 2>&1 || {
    cat "$log" >&2
    echo "$0: chromium failed" >&2
    exit 1
}
# Page errors: console errors from the page and failed loads of its resources.
if grep -E 'CONSOLE\(|Uncaught|ERR_FILE_NOT_FOUND|Failed to load resource|Refused to' "$log" | grep -Eiv 'dbus|viz|gpu|gcm|fontconfig' >&2; then
    echo "$0: the page logged errors (above)" >&2
    exit 1
fi
[ -s "$out" ] || { cat "$log" >&2; echo "$0: no screenshot written" >&2; exit 1; }
echo "wrote $out"
