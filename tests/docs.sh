#!/usr/bin/env bash
# tests/docs.sh MARLSIM — the documentation that ships cannot drift from the
# code: the generated parts of docs/ are current ($MARLSIM_TOOLS/docgen), the
# man page renders with `man -l` and lists every config key of
# configs/default.ini with its default, every command, option, exit code
# and environment variable the binary knows, and the README links only to
# files in the repository. Last line "docs: N passed, N failed".
set -u
MARLSIM=$1
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2
TOOLS=${MARLSIM_TOOLS:-build}
MAN=docs/marlsim.1
pass=0 fail=0
ok() { echo "PASS $1"; pass=$((pass + 1)); }
ko() { echo "FAIL $1"; fail=$((fail + 1)); }
T=$(mktemp -d "${TMPDIR:-/tmp}/lib-docs.XXXXXX") || exit 2
trap 'rm -rf "$T"' EXIT

# 1. Generated parts (config keys, features, rewards, lake schema).
if docs/sync.sh "$TOOLS/docgen" --check docs/marlsim.1 docs/environment.md docs/lake.md 2>"$T/sync"; then
    ok "the generated parts of docs/ are what the code says"
else
    cat "$T/sync"
    ko "the generated parts of docs/ are stale (make docs)"
fi

# 2. The man page renders, without a groff warning, with its sections.
if MANWIDTH=200 man --warnings -l "$MAN" >"$T/man.txt" 2>"$T/man.err" && [ ! -s "$T/man.err" ] &&
    grep -q '^NAME' "$T/man.txt" && grep -q '^CONFIGURATION' "$T/man.txt" &&
    grep -q '^EXIT STATUS' "$T/man.txt" && grep -q '^ENVIRONMENT' "$T/man.txt" && grep -q '^FILES' "$T/man.txt"; then
    ok "man -l renders the man page, sections and all, without warnings"
else
    cat "$T/man.err"
    ko "man -l $MAN"
fi

# 3. Every key of configs/default.ini, in its section, with its default.
ini_keys() {
    awk '/^\[/ { s = $0; next } /^[a-z_]+ = / || /^[a-z_]+ =$/ { k = $1; v = $0; sub(/^[^=]*= ?/, "", v); print s, k, "[" v "]" }' configs/default.ini
}
man_keys() {
    awk '/^\.SS \[/ { s = $2; next } /^\.SH/ { s = "" } s && /^\.B [a-z_]+$/ { k = $2; next }
         s && k && /^Default: / { v = $0; sub(/^Default: /, "", v); sub(/\.$/, "", v); gsub(/\\fB|\\fR/, "", v);
                                  if (v == "empty") v = ""; print s, k, "[" v "]"; k = "" }' "$MAN"
}
ini_keys >"$T/ini"
man_keys >"$T/man-keys"
if [ -s "$T/ini" ] && diff "$T/ini" "$T/man-keys" >"$T/keys.diff"; then
    ok "the man page lists all $(wc -l <"$T/ini") config keys of configs/default.ini with their defaults"
else
    head -20 "$T/keys.diff"
    ko "config keys of configs/default.ini missing from the man page or with another default"
fi

# 4. Every command and every option the binary's help names.
cmds=$("$MARLSIM" --help | awk '/^commands:/ { on = 1; next } on && /^$/ { exit } on && /^  [a-z]+ / { print $1 }')
missing=""
for c in $cmds; do
    grep -q "^\.B $c\b" "$MAN" || missing="$missing $c"
    for o in $("$MARLSIM" help "$c" 2>/dev/null | grep -o -- '--[a-z][a-z-]*' | sort -u); do
        grep -q -- "$(printf '%s' "$o" | sed 's/-/\\\\-/g')" "$MAN" || missing="$missing $c:$o"
    done
done
if [ -n "$cmds" ] && [ -z "$missing" ]; then
    ok "the man page documents every command ($(echo $cmds | wc -w)) and every option of their help"
else
    ko "commands or options the man page lacks:${missing:- (no commands found in marlsim --help)}"
fi

# 5. Exit codes and environment variables.
codes=$("$MARLSIM" --help | sed -n '/^exit codes:/,$p' | grep -oE '\b[0-9]+\b' | sort -u)
vars=$(grep -ho 'getenv("[A-Z_]*")' base/*.c keys/*.c sim/*.c nn/*.c ledger/*.c exp/*.c api/*.c cli/*.c |
    sed 's/getenv("\(.*\)")/\1/' | sort -u)
missing=""
for x in $codes; do
    sed -n '/^\.SH "*EXIT STATUS/,/^\.SH ENVIRONMENT/p' "$MAN" | grep '^\.B ' | grep -qE "(^|[^0-9])$x([^0-9]|$)" || missing="$missing exit:$x"
done
for v in $vars; do sed -n '/^\.SH ENVIRONMENT/,/^\.SH FILES/p' "$MAN" | grep -q "^\.B $v$" || missing="$missing env:$v"; done
if [ -n "$codes" ] && [ -n "$vars" ] && [ -z "$missing" ]; then
    ok "the man page names every exit code ($(echo $codes)) and environment variable ($(echo $vars))"
else
    ko "missing from the man page:$missing"
fi

# 6. The README links only to files in the repository.
bad=""
for l in $(grep -oE '\]\([^)#]+' README.md | sed 's/^](//'); do
    case $l in
    http://* | https://* | mailto:*) bad="$bad $l" ;;
    *) [ -e "$l" ] && case $(realpath -m "$l") in "$ROOT"/*) ;; *) false ;; esac || bad="$bad $l" ;;
    esac
done
grep -q 'shared/SPEC' README.md && bad="$bad shared/SPEC"
if [ -z "$bad" ] && grep -q '](docs/lake.md)' README.md; then
    ok "the README links only to files in the repository"
else
    ko "README links outside the repository:$bad"
fi

echo "docs: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
