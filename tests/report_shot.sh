#!/bin/sh
# The report as a browser draws it (CI, `make report-shot`; not in make test:
# it needs Chromium). Makes the report of the default run (configs/default.ini
# as it is, signed with a scratch keyring), screenshots it with
# headless Chromium (no network, no JavaScript needed), and checks with
# tests/tools/png_colours.py that the screenshot shows the charts: the
# learning curve's line and promoted points, the outcome bars and the rule
# bars, in colours only the charts use. A control shows the check can fail:
# the same report without its <svg> elements must not pass it.
# usage: tests/report_shot.sh MARLSIM [OUTDIR]   (keeps OUTDIR/report-shot.png
# and report-shot.html; last line "report-shot: N passed, N failed")
set -u
M=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
OUT=$(mkdir -p "${2:-build}" && cd "${2:-build}" && pwd)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PNG="$ROOT/tests/tools/png_colours.py"
. "$ROOT/tests/harness.sh"
scratch report-shot
shot() { # shot FILE.html FILE.png
    timeout 180 chromium --headless --disable-gpu --no-sandbox --hide-scrollbars --no-first-run \
        --user-data-dir="$T/profile" --screenshot="$2" --window-size=1200,2000 "file://$1" >"$T/chromium.log" 2>&1
}
# The charts' own colours (report/html.c's CSS): learning curve, promoted
# gate points, previewed and quarantined outcome bars, rule bars. Each
# minimum is above what the legend's 12x12 swatch alone gives.
COLOURS="curve=1f6feb:600 promoted=1a7f37:400 previewed=7ee2a8:2000 quarantined=cf222e:2000 rule-bars=bc4c00:2000"

if ! command -v chromium >/dev/null; then
    ko "chromium is installed (make report-shot installs the Debian package as root)"
    echo "report-shot: $pass passed, $fail failed"
    exit 1
fi
"$M" keys init --keyring "$T/k" >/dev/null 2>&1
if "$M" run "$ROOT/configs/default.ini" --keyring "$T/k" --quiet --out "$T/run.db" >/dev/null 2>&1 &&
    "$M" report "$T/run.db" --keyring "$T/k" --out "$OUT/report-shot.html" >"$T/out"; then
    ok "the default run and its report: $(cat "$T/out")"
else
    ko "the default run and its report"
fi
if shot "$OUT/report-shot.html" "$OUT/report-shot.png" && [ -s "$OUT/report-shot.png" ]; then
    ok "headless Chromium screenshots the report: $OUT/report-shot.png, $(stat -c %s "$OUT/report-shot.png") bytes"
else
    ko "headless Chromium screenshots the report" "$(tail -3 "$T/chromium.log")"
fi
# shellcheck disable=SC2086
if python3 "$PNG" "$OUT/report-shot.png" $COLOURS >"$T/colours"; then
    ok "the screenshot shows the rendered charts"
else
    ko "the screenshot shows the rendered charts"
fi
cat "$T/colours"
# Control: the report without its charts.
python3 -c 'import re, sys
s = open(sys.argv[1]).read()
open(sys.argv[2], "w").write(re.sub(r"<svg .*?</svg>", "", s, flags=re.S))' "$OUT/report-shot.html" "$T/nocharts.html"
shot "$T/nocharts.html" "$T/nocharts.png"
# shellcheck disable=SC2086
python3 "$PNG" "$T/nocharts.png" $COLOURS >"$T/colours-control"
rc=$?
if [ "$rc" = 1 ]; then
    ok "control: the same page without its <svg> charts fails the check"
else
    ko "control: the same page without its <svg> charts fails the check" "exit $rc: $(cat "$T/colours-control")"
fi
echo "report-shot: $pass passed, $fail failed"
[ "$fail" = 0 ]
