#!/bin/sh
# The compliance lint (tests/lint/) on the tree and on scratch copies with
# violations planted: each of its tools must pass the tree and name what was
# planted. `make lint` runs the whole lint on the whole tree (CI); this suite
# runs the scan on the tree and each tool on small planted files, so that
# make test stays fast.
# usage: tests/lint.sh MARLSIM   (the binary is not used; last line
# "lint: N passed, N failed")
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d /tmp/gov-lint-XXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "PASS $1"; }
ko() { fail=$((fail + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && echo "  $2"; }
check() { n=$1; shift; if "$@"; then ok "$n"; else ko "$n" "$(head -c 800 "$T/out" 2>/dev/null)"; fi; }

"$ROOT/tests/lint/lint.sh" --fast "$ROOT" >"$T/out" 2>&1
check "the tree has no banned call and no unexplained key-like literal" grep -qx 'lint: 0 findings' "$T/out"

# A scratch copy of the sources with a strcpy and a random 32-byte key planted.
mkdir "$T/tree"
(cd "$ROOT" && git ls-files -co --exclude-standard | grep -vE '^(build|build-asan|runs)/' | tar -cf - -T -) | (cd "$T/tree" && tar -xf -)
KEY=$(head -c 32 /dev/urandom | base64)
cat >>"$T/tree/gov/card.c" <<EOC
static void planted(char *d, const char *s) { strcpy(d, s); }
static const char planted_key[] = "$KEY";
EOC
"$ROOT/tests/lint/lint.sh" --fast "$T/tree" >"$T/out" 2>&1
st=$?
check "the planted copy fails the lint (exit 1)" [ "$st" = 1 ]
check "the finding names the strcpy, its file and line" grep -Eq '^gov/card\.c:[0-9]+: banned strcpy' "$T/out"
check "the finding names the key-like literal" grep -Eq "^gov/card\.c:[0-9]+: key-like literal $(printf %.20s "$KEY" | sed 's/[+/]/./g')" "$T/out"
sed -i 's/strcpy(d, s); }/strcpy(d, s); } \/* lint-allow: too short *\//' "$T/tree/gov/card.c"
"$ROOT/tests/lint/lint.sh" --fast "$T/tree" >"$T/out" 2>&1
check "a suppression without a real reason does not count" grep -Eq '^gov/card\.c:[0-9]+: banned strcpy' "$T/out"
sed -i 's/lint-allow: too short/lint-allow: a planted call this test allows/' "$T/tree/gov/card.c"
"$ROOT/tests/lint/lint.sh" --fast "$T/tree" >"$T/out" 2>&1
check "a suppression with its reason silences exactly that call" sh -c "! grep -q 'banned strcpy' '$T/out' && grep -q 'key-like literal' '$T/out'"
# sprintf in a string or a comment is not a call.
printf '/* sprintf(x) */ static const char *s = "strcpy(a, b)";\n' >"$T/tree/gov/x.c"
"$ROOT/tests/lint/lint.sh" --fast "$T/tree" >"$T/out" 2>&1
check "calls in comments and strings are not findings" sh -c "! grep -q 'gov/x.c' '$T/out'"

# cppcheck and -fanalyzer each catch a planted bug (on the planted file only).
if command -v cppcheck >/dev/null; then
    printf 'int f(void);\nint f(void) { int a[4]; int i = 4; a[i] = 1; return a[0]; }\n' >"$T/bug.c"
    cppcheck --enable=warning --quiet --template='{id}' "$T/bug.c" >"$T/out" 2>&1
    check "cppcheck names a planted out-of-bounds write" grep -q arrayIndexOutOfBounds "$T/out"
    cppcheck --enable=warning,portability,performance --std=c11 -D_GNU_SOURCE -I"$ROOT" --quiet \
        --suppress-xml="$ROOT/tests/lint/cppcheck-suppressions.xml" "$ROOT/gov/release.c" "$ROOT/gov/audit.c" "$ROOT/gov/card.c" >"$T/out" 2>&1
    check "cppcheck: gov/ has no finding" [ ! -s "$T/out" ]
else
    ko "cppcheck is not installed (make lint installs it)"
fi
printf '#include <stdlib.h>\nint g(int n);\nint g(int n) { char *p = malloc(8); if (!p) return 0; free(p); if (n) free(p); return n; }\n' >"$T/df.c"
gcc -fanalyzer -c "$T/df.c" -o "$T/df.o" >"$T/out" 2>&1
check "gcc -fanalyzer names a planted double free" grep -q 'Wanalyzer-double-free' "$T/out"

echo "lint: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
