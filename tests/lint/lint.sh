#!/bin/sh
# tests/lint/lint.sh [--fast] [ROOT] — the compliance lint (make lint; CI).
#   1. banned functions and key-like literals (tests/lint/scan.py: the list
#      and why each is banned; published test vectors allowed one by one in
#      tests/lint/keylike-allow.txt);
#   2. cppcheck (Debian) over the library and the commands: warning,
#      portability and performance checks; each remaining finding suppressed
#      one by one with its reason in tests/lint/cppcheck-suppressions.xml;
#   3. GCC's -fanalyzer over the library code (base keys sim nn ledger exp gov
#      report api); each remaining finding suppressed one by one with its
#      reason in tests/lint/analyzer-suppressions.txt.
# --fast runs 1 only (tests/lint.sh uses it on scratch copies). Prints the
# findings, then "lint: N findings"; exit 0 none, 1 findings, 2 a tool missing.
set -u
fast=0
[ "${1:-}" = --fast ] && { fast=1; shift; }
ROOT=$(cd "${1:-$(dirname "$0")/../..}" && pwd)
cd "$ROOT" || exit 2
OUT=$(mktemp -d /tmp/lint-XXXXXX) || exit 2
trap 'rm -rf "$OUT"' EXIT
n=0
python3 tests/lint/scan.py . >"$OUT/scan" 2>&1
st=$?
[ "$st" -eq 2 ] && { cat "$OUT/scan"; exit 2; }
grep -v '^scan: ' "$OUT/scan"
n=$((n + $(grep -vc '^scan: ' "$OUT/scan")))
echo "lint: banned functions and key-like literals: $(tail -1 "$OUT/scan")" >&2
if [ "$fast" = 0 ]; then
    command -v cppcheck >/dev/null || { echo "lint: cppcheck is missing (make lint installs it)" >&2; exit 2; }
    cppcheck --enable=warning,portability,performance --std=c11 -D_GNU_SOURCE -I. --inline-suppr --quiet \
        --suppress-xml=tests/lint/cppcheck-suppressions.xml --template='{file}:{line}: cppcheck {severity} {id}: {message}' \
        -j2 base keys sim nn ledger exp gov report api cli 2>"$OUT/cppcheck"
    cat "$OUT/cppcheck"
    c=$(grep -c ': cppcheck ' "$OUT/cppcheck")
    n=$((n + c))
    echo "lint: cppcheck: $c findings" >&2
    AFLAGS="-std=c11 -D_GNU_SOURCE -O1 -I. $(pkg-config --cflags openblas inih sqlite3 libcrypto ompi-c 2>/dev/null) -fanalyzer"
    export AFLAGS OUT
    ls base/*.c keys/*.c sim/*.c nn/*.c ledger/*.c exp/*.c gov/*.c report/*.c api/*.c |
        xargs -P2 -n1 sh -c 'gcc $AFLAGS -c "$0" -o /dev/null 2>"$OUT/an-$(echo "$0" | tr / _)"'
    cat "$OUT"/an-* | grep ': warning: ' >"$OUT/analyzer"
    a=0
    while IFS= read -r w; do
        f=${w%%:*}
        opt=$(printf '%s\n' "$w" | sed -n 's/.*\[\(-Wanalyzer-[a-z-]*\)\]$/\1/p')
        sup=0
        while read -r sf sopt sname _; do
            case $sf in '#'* | '') continue ;; esac
            name=${sname#\'}
            name=${name%\'}
            [ "$sf" = "$f" ] && [ "$sopt" = "$opt" ] && printf '%s\n' "$w" | grep -qF -- "‘${name}’" && sup=1
        done <tests/lint/analyzer-suppressions.txt
        [ "$sup" = 1 ] && continue
        printf '%s (gcc -fanalyzer)\n' "$w"
        a=$((a + 1))
    done <"$OUT/analyzer"
    n=$((n + a))
    echo "lint: gcc -fanalyzer: $a findings ($(wc -l <"$OUT/analyzer") before the suppressions)" >&2
fi
echo "lint: $n findings"
[ "$n" -eq 0 ]
