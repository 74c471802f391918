#!/usr/bin/env bash
# Fuzz loops against a sanitizer build: `verify` on mutated lakes, `eval` on
# mutated configs. The product promise: verify treats a lake as hostile (a
# malformed, truncated or non-SQLite file is exit 2, a tampered one exit 1,
# never a crash, never a write); a bad config is exit 2 naming the file.
# usage: tests/fuzz.sh MARLSIM [VERIFY_ITERATIONS [CONFIG_ITERATIONS]]
#        (last line: "fuzz: N passed, N failed", one test per iteration)
# Environment:
#   FUZZ_SEED=N      master seed (default 1); iteration i of a loop draws from
#                    awk's srand(N * 10007 + i), so a run is reproducible
#   FUZZ_ONLY=L:I    run only iteration I of loop L (verify or config)
#   FUZZ_KEEP=DIR    where failing inputs are kept (default build-asan/fuzz-kept)
#   FUZZ_VERBOSE=1   one line per passing iteration too (class, exit, message)
# A failure prints the seed, loop, iteration and mutation plan, and keeps the
# mutated file, its base, the plan and the command's output in FUZZ_KEEP:
# `MARLSIM verify FUZZ_KEEP/verify-I.db`, or `MARLSIM eval FUZZ_KEEP/config-I.ini
# --policy random --set gate.eval_episodes=1 --set sim.envs=1 --set
# train.minibatch=32 --json` (minibatch: one mailbox's rollout holds only 32
# samples), replays it. Plain bash + awk/dd/od/cmp/cksum/timeout, and the
# sqlite3 shell to locate sqlite_schema; no python.
set -u
export LC_ALL=C
if [ $# -lt 1 ]; then
    echo "usage: tests/fuzz.sh MARLSIM [VERIFY_ITERATIONS [CONFIG_ITERATIONS]]" >&2
    exit 2
fi
M=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
NV=${2:-3000}
NC=${3:-2000}
SEED=${FUZZ_SEED:-1}
ONLY=${FUZZ_ONLY:-}
VERBOSE=${FUZZ_VERBOSE:-}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CFG="$ROOT/configs/default.ini"
KEEP=${FUZZ_KEEP:-$ROOT/build-asan/fuzz-kept}
T=$(mktemp -d /tmp/marlsim-fuzz-XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 2
# A keyring of the test's own (never the user's): the base lakes are signed
# with it and verify checks their checkpoints with it.
mkdir -m 700 "$T/home" "$T/keys"
export HOME="$T/home" XDG_DATA_HOME= MARLSIM_KEYRING="$T/keys/keyring"
"$M" keys init >/dev/null 2>&1 && for r in 1 2 3 4; do "$M" keys rotate >/dev/null 2>&1; done
# A sanitizer report must never pass for one of the product's exit codes.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}:exitcode=86"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}:halt_on_error=1:exitcode=87"
SANITIZER='ERROR: [A-Za-z]*Sanitizer|WARNING: [A-Za-z]*Sanitizer|SUMMARY: [A-Za-z]*Sanitizer|runtime error:|Sanitizer has encountered'
TIMEOUT=120

pass=0 fail=0
CTRL=$(printf '[\001-\010\013-\037\177]')
ok() { pass=$((pass + 1)); echo "PASS $1"; }
ko() { fail=$((fail + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && echo "  $2"; }
check() { n=$1; shift; if "$@"; then ok "$n"; else ko "$n"; fi; }
quiet() { "$@" >"$T/qout" 2>&1 || { head -c 600 "$T/qout"; return 1; }; }
want() { [ -z "$ONLY" ] || [ "$ONLY" = "$1:$2" ]; }

# keep NAME FILE... — copies the failing inputs into $KEEP.
keep() {
    local n=$1 f; shift
    mkdir -p "$KEEP" || return
    for f in "$@"; do [ -e "$f" ] && cp "$f" "$KEEP/$n${f##*/mut}"; done
    echo "  kept in $KEEP/$n.*"
}

# apply FILE PAGESIZE < PLAN — applies the mutation plan's operations (the
# byte strings are printf formats on purpose: awk writes them as escapes):
#   W OFF BYTES   overwrite at OFF (BYTES: \ooo octal escapes)
#   X OFF MASK    xor the byte at OFF with MASK
#   I OFF BYTES   insert at OFF
#   A BYTES       append
#   T LEN         truncate to LEN bytes
#   Z PAGE        zero page PAGE (0-based)
#   C SRC DST     copy page SRC over page DST
apply() {
    local f=$1 ps=$2 op a b b0
    while read -r op a b; do
        case $op in
        W) printf "$b" | dd of="$f" bs=1 seek="$a" conv=notrunc status=none ;;
        X) b0=$(od -An -tu1 -j "$a" -N 1 "$f" 2>/dev/null)
           [ -n "$b0" ] || continue   # past the end (after a truncation)
           printf "\\$(printf %03o $(( b0 ^ b )))" | dd of="$f" bs=1 seek="$a" conv=notrunc status=none ;;
        I) { head -c "$a" "$f"; printf "$b"; tail -c +$((a + 1)) "$f"; } >"$f.ins" && mv "$f.ins" "$f" ;;
        A) printf "$a" >>"$f" ;;
        T) truncate -s "$a" "$f" ;;
        Z) dd if=/dev/zero of="$f" bs="$ps" seek="$a" count=1 conv=notrunc status=none ;;
        C) dd if="$f" of="$f.page" bs="$ps" skip="$a" count=1 status=none &&
           dd if="$f.page" of="$f" bs="$ps" seek="$b" count=1 conv=notrunc status=none ;;
        esac
    done
}

# Shared awk helpers: ri(n) in [0, n), rbytes(n) n random bytes as escapes.
AWKLIB='
function ri(n) { return int(rand() * n) }
function oct(v) { return sprintf("\\%03o", v) }
function rbytes(n,   s, i) { s = ""; for (i = 0; i < n; i++) s = s oct(ri(256)); return s }
function be(v, w,   s, i, d) { s = ""; for (i = w - 1; i >= 0; i--) { d = 256 ^ i; s = s oct(int(v / d) % 256) } return s }
function fill(c, w,   s, i) { s = ""; for (i = 0; i < w; i++) s = s oct(c); return s }
'

# --- verify: mutated lakes -------------------------------------------------
# Lake mutation plan for iteration seed s: first line "class NAME", then ops.
LAKEPLAN=$AWKLIB'
function page(p) { return p * ps + (p == 0 ? 100 : 0) }
function headerfield(   k, off, w, v) {
    k = ri(nf); off = fo[k]; w = fw[k]; v = ri(10)
    if (v == 0) return "W " off " " fill(0, w)
    if (v == 1) return "W " off " " fill(255, w)
    if (v == 2) return "W " off " " oct(127) fill(255, w - 1)
    if (v == 3) return "W " off " " oct(128) fill(0, w - 1)
    if (v == 4) return "W " off " " be(1 + ri(3), w)
    if (v == 5) return "W " off " " be(np + 1 - ri(3), w)
    if (v == 6) return "W " off " " be(np * 2 + ri(1000), w)
    if (v == 7) return "W " off " " be(512 * 2 ^ ri(8), w)
    return "W " off " " rbytes(w)
}
function anywhere(   o) { o = ri(size); return "W " o " " rbytes(1 + ri(16 < size - o ? 16 : size - o)) }
function one(c,   p, o, n, i, s, k) {
    if (c == 0) { n = 1 + ri(4); s = ""; for (i = 0; i < n; i++) s = s (i ? "\n" : "") "W " ri(100) " " rbytes(1); return s }
    if (c == 1) return headerfield()
    if (c == 2) { p = ri(np); n = 1 + ri(3); o = page(p) + ri(12 - n + 1); return "W " o " " rbytes(n) }
    if (c == 3) { p = ri(np); o = page(p) + 8 + ri(128); return "W " o " " rbytes(1 + ri(2)) }
    if (c == 4) { k = ri(nsp); o = sp[k] * ps - 1 - ri(su[k]); n = 1 + ri(4); if (o + n > size) n = size - o; return "W " o " " rbytes(n) }
    if (c == 5) { n = 1 + ri(16); s = ""; for (i = 0; i < n; i++) s = s (i ? "\n" : "") "X " ri(size) " " 2 ^ ri(8); return s }
    if (c == 6) { n = 1 + ri(8); s = ""; for (i = 0; i < n; i++) s = s (i ? "\n" : "") anywhere(); return s }
    if (c == 7) return "T " ri(size)
    if (c == 8) { o = ri(np) * ps; if (ri(4) == 0) o += 1 + ri(512); return "T " o }
    if (c == 9) { n = ri(2) ? ps : 1 + ri(2 * ps); return "A " rbytes(n) }
    if (c == 10) return "Z " (ri(8) == 0 ? 0 : ri(np))
    if (c == 11) { p = ri(np); o = ri(np); while (o == p) o = ri(np); return "C " p " " o }
}
BEGIN {
    srand(s); np = int(size / ps)
    # schema: "PAGE:USED ..." the sqlite_schema pages (1-based) and the bytes
    # their cells use at the page end; page 1 when unknown
    nsp = split(schema, t, " "); if (nsp == 0) { nsp = 1; t[1] = "1:" (ps - 100) }
    for (k = 0; k < nsp; k++) { split(t[k + 1], u, ":"); sp[k] = u[1]; su[k] = u[2] < 1 ? 1 : u[2] }
    split("16 18 19 20 21 22 23 24 28 32 36 40 44 48 52 56 60 64 68 92 96", fo, " ")
    split("2 1 1 1 1 1 1 4 4 4 4 4 4 4 4 4 4 4 4 4 4", fw, " ")
    nf = 21; for (k = 0; k < nf; k++) { fo[k] = fo[k + 1]; fw[k] = fw[k + 1] }
    split("header-bytes header-field page-header cell-pointers schema-page bit-flips overwrite truncate truncate-page append zero-page copy-page mixed", cn, " ")
    c = ri(13)
    print "class " cn[c + 1]
    if (c < 12) { print one(c); exit }
    n = 2 + ri(3)
    for (i = 0; i < n; i++) { k = ri(12); if (k == 7 || k == 8 || k == 9) k = 6; print one(k) }
}'

declare -A V0 V1 V2 VN SCHEMA
verify_iteration() { # BASE NAME ITERATION
    local base=$1 name=$2 i=$3 s ps size cls f=$T/mut.db out=$T/out err=$T/err rc why="" sum
    s=$((SEED * 10007 + i))
    size=$(stat -c %s "$base")
    ps=$(od -An -tu1 -j 16 -N 2 "$base" | awk '{ v = $1 * 256 + $2; print (v == 1 ? 65536 : v) }')
    awk -v s="$s" -v size="$size" -v ps="$ps" -v schema="${SCHEMA[$name]:-}" "$LAKEPLAN" >"$T/mut.plan"
    cls=$(sed -n '1s/^class //p' "$T/mut.plan")
    rm -f "$f" "$f-wal" "$f-shm" "$f-journal"
    cp "$base" "$f"
    tail -n +2 "$T/mut.plan" | apply "$f" "$ps"
    sum=$(cksum <"$f")
    timeout -k 5 $TIMEOUT "$M" verify "$f" >"$out" 2>"$err" </dev/null; rc=$?
    if grep -Eq "$SANITIZER" "$err"; then why="sanitizer report"
    elif [ $rc = 124 ] || [ $rc = 137 ]; then why="no answer after ${TIMEOUT}s"
    elif [ $rc -gt 2 ]; then why="exit $rc"
    elif [ ! -s "$out" ] && [ ! -s "$err" ]; then why="exit $rc with no message"
    elif [ "$(cksum <"$f")" != "$sum" ]; then why="verify modified the file"
    elif [ -e "$f-wal" ] || [ -e "$f-shm" ] || [ -e "$f-journal" ]; then why="verify left a -wal/-shm/-journal file"
    elif [ $rc = 0 ] && ! grep -q '^OK' "$out"; then why="exit 0 without OK"
    elif [ $rc = 0 ] && [ "$(stat -c %s "$f")" -lt "$size" ]; then why="exit 0 on a truncated lake"
    elif [ $rc != 0 ] && cmp -s "$base" "$f"; then why="exit $rc on an unchanged lake"
    elif [ $rc != 0 ] && ! grep -qF "$f" "$out" "$err"; then why="exit $rc without naming the file"
    # Error text quotes names from the file: no raw control characters
    # (terminal escapes) from a hostile lake may reach the terminal.
    elif grep -aq "$CTRL" "$out" "$err"; then why="the output carries control characters from the file"
    fi
    if [ -n "$why" ]; then
        fail=$((fail + 1))
        echo "FAIL verify $name iteration $i ($cls): $why  [FUZZ_SEED=$SEED FUZZ_ONLY=verify:$i]"
        sed 's/^/  plan: /' "$T/mut.plan" | cut -c 1-200
        cat "$out" "$err" | head -n 40 | sed 's/^/  | /'
        cp "$err" "$T/mut.stderr"; cp "$out" "$T/mut.stdout"
        keep "verify-$i" "$f" "$T/mut.plan" "$T/mut.stdout" "$T/mut.stderr"
        [ -e "$KEEP/verify-base-$name.db" ] || cp "$base" "$KEEP/verify-base-$name.db"
        return
    fi
    pass=$((pass + 1))
    [ -z "$VERBOSE" ] || echo "  verify $name $i $cls: exit $rc: $(cat "$out" "$err" | head -n 1 | cut -c 1-160)"
    if cmp -s "$base" "$f"; then VN[$cls]=$((${VN[$cls]:-0} + 1))
    else case $rc in 0) V0[$cls]=$((${V0[$cls]:-0} + 1)) ;; 1) V1[$cls]=$((${V1[$cls]:-0} + 1)) ;; 2) V2[$cls]=$((${V2[$cls]:-0} + 1)) ;; esac; fi
}

SMALL="--set run.env_steps=2048 --set sim.envs=16 --set gate.every=2 --quiet"
if [ "$NV" -gt 0 ] && [ "${ONLY%%:*}" != config ]; then
    # Three small lakes: full telemetry with poisoning (anomalies, poison
    # truth) and key rotation (several key rows); aggregate telemetry; the
    # first one purged twice.
    "$M" run "$CFG" $SMALL --set sim.poison_rate=0.05 --set sim.episode_len=16 \
        --set keys.rotate_every_episodes=2 --out full.db >"$T/out" 2>&1
    check "fuzz base lake (full, poisoned, rotated keys) verifies" quiet "$M" verify full.db
    "$M" run "$CFG" $SMALL --set telemetry.level=aggregate --out agg.db >"$T/out" 2>&1
    check "fuzz base lake (aggregate) verifies" quiet "$M" verify agg.db
    # A purged copy of the full lake (tombstones, purges, their chained
    # entries and a later checkpoint).
    cp full.db purged.db && "$M" purge purged.db --class behavioural --before-step 40 >"$T/out" 2>&1 &&
        "$M" purge purged.db --class security --before-step 60 >"$T/out" 2>&1
    check "fuzz base lake (purged twice) verifies" quiet "$M" verify purged.db
    # Where sqlite_schema lives (dbstat of the stock sqlite3 shell), so the
    # schema-page mutations land in its cells rather than in free space.
    for name in full agg purged; do
        SCHEMA[$name]=$(sqlite3 "file:$T/$name.db?immutable=1" \
            "select group_concat(pageno || ':' || (pgsize - unused), ' ') from dbstat where name = 'sqlite_schema' and pagetype = 'leaf'" 2>/dev/null)
        echo "  $name.db: $(stat -c %s "$T/$name.db") bytes, sqlite_schema leaf pages (page:used bytes): ${SCHEMA[$name]:-unknown, using page 1}"
    done
    i=0
    while [ $i -lt "$NV" ]; do
        i=$((i + 1))
        want verify $i || continue
        case $((i % 3)) in
        0) verify_iteration "$T/agg.db" agg $i ;;
        1) verify_iteration "$T/full.db" full $i ;;
        *) verify_iteration "$T/purged.db" purged $i ;;
        esac
    done
    tot0=0 tot1=0 tot2=0 totn=0
    for cls in header-bytes header-field page-header cell-pointers schema-page bit-flips overwrite truncate truncate-page append zero-page copy-page mixed; do
        a=${V0[$cls]:-0} b=${V1[$cls]:-0} c=${V2[$cls]:-0} d=${VN[$cls]:-0}
        tot0=$((tot0 + a)) tot1=$((tot1 + b)) tot2=$((tot2 + c)) totn=$((totn + d))
        [ $((a + b + c + d)) = 0 ] || printf '  verify %-14s %4d: exit 1 tampered %4d, exit 2 unreadable %4d, exit 0 intact %4d, unchanged %d\n' \
            "$cls" $((a + b + c + d)) "$b" "$c" "$a" "$d"
    done
    echo "  verify: $((tot1 + tot2)) mutations detected (exit 1: $tot1, exit 2: $tot2), $tot0 passed as intact, $totn left the file unchanged"
fi

# --- config: mutated INI files through eval ---------------------------------
# Config mutation plan: writes the line-level mutation of CFG to out, prints
# "class NAME" then byte-level ops (offsets into the written file).
CFGPLAN=$AWKLIB'
function keyline(   k) { k = ri(nk); return K[k] }
function junk(n,   s, i) { s = ""; for (i = 0; i < n; i++) s = s sprintf("%c", 32 + ri(95)); return s }
function rep(c, n,   s) { s = ""; while (n-- > 0) s = s c; return s }
function line_op(c,   a, b, t, k, v, eq, n) {
    if (c == 0) { a = 1 + ri(nl); n = 1 + ri(3); for (k = 0; k < n; k++) { del[a] = 1; a = 1 + ri(nl) } return }
    if (c == 1) { a = (ri(4) ? keyline() : 1 + ri(nl)); L[a] = L[a] "\n" L[a]; return }
    if (c == 2) { a = 1 + ri(nl); b = 1 + ri(nl); t = L[a]; L[a] = L[b]; L[b] = t; return }
    if (c == 3) { a = keyline(); b = 1 + ri(nl); L[b] = L[b] "\n" L[a]; del[a] = 1; return }
    if (c == 4) {
        a = keyline(); eq = index(L[a], "=")
        v = ri(ntok + 3)
        if (v == ntok) t = rep("9", 300 + ri(2000))
        else if (v == ntok + 1) t = rep("a", 1000 + ri(5000))
        else if (v == ntok + 2) t = junk(1 + ri(40))
        else t = tok[v + 1]
        L[a] = substr(L[a], 1, eq) " " t; return
    }
    if (c == 5) {
        a = keyline(); eq = index(L[a], "="); k = substr(L[a], 1, eq - 1); sub(/ +$/, "", k); v = ri(6)
        if (v == 0) k = substr(k, 2)
        else if (v == 1) k = toupper(k)
        else if (v == 2) k = k "_x"
        else if (v == 3) k = ""
        else if (v == 4) k = k "." k
        else k = junk(1 + ri(12))
        L[a] = k " =" substr(L[a], eq + 1); return
    }
    if (c == 6) {
        a = S[ri(ns)]; t = substr(L[a], 2, length(L[a]) - 2); v = ri(8)
        if (v == 0) L[a] = "[" t
        else if (v == 1) L[a] = "[ " t " ]"
        else if (v == 2) L[a] = "[" toupper(t) "]"
        else if (v == 3) L[a] = "[]"
        else if (v == 4) L[a] = "[" t "]x"
        else if (v == 5) L[a] = "[" t "][" t "]"
        else if (v == 6) L[a] = "[" rep("s", 500 + ri(5000)) "]"
        else L[a] = "[" junk(1 + ri(10)) "]"
        return
    }
    if (c == 7) { a = 1 + ri(nl); L[a] = L[a] "\n" (ri(2) ? "; " : "key = ") rep("x", 1000 + ri(100000)); return }
    if (c == 8) {
        v = ri(5)
        if (v == 0) crlf = 1
        else if (v == 1) bom = 1
        else if (v == 2) { a = keyline(); sub(/ = /, "\t=\t", L[a]) }
        else if (v == 3) { a = keyline(); L[a] = L[a] " ; trailing comment" }
        else { a = keyline(); gsub(/ /, "", L[a]) }
        return
    }
}
BEGIN {
    srand(s)
    while ((getline line < cfg) > 0) { nl++; L[nl] = line
        if (line ~ /^[a-z_]+ =/) K[nk++] = nl; else if (line ~ /^\[/) S[ns++] = nl }
    ntok = split("|-1|0|1|-0|+1|1.5|.5|5.|1e309|-1e309|1e-320|nan|NaN|inf|-inf|0x10|010|9223372036854775807|9223372036854775808|-9223372036854775809|18446744073709551616|2147483648|-2147483649|4294967296|1 2|1,|,|,,,,|1,2,3,4,5|0.25,0.25,0.25,0.25|0.7,0.18,0.08,0.04,0|1,nan,0,0|1,0,0,0|tanh|relu,tanh|all,bad_mac|bad_mac,bad_mac|replay,|modality |\"64\"|64 64|64;x|64#x|=|==|[sim]|%s%s%n%n|../../../etc/passwd|/dev/zero|1024,1024,1024,1024|1024,1024,1024,1024,1024|0,0|1e3|100001|4097|65537|0.00000000000000000000001|é|\\", tok, "|")
    split("delete-lines duplicate-line swap-lines move-key bad-value bad-key bad-section long-line format junk-line bit-flips overwrite truncate mixed", cn, " ")
    c = ri(14)
    print "class " cn[c + 1]
    if (c <= 8) line_op(c)
    else if (c == 13) { n = 2 + ri(2); for (i = 0; i < n; i++) { k = ri(13); if (k <= 8) line_op(k); else byteops[nb++] = k } }
    else byteops[nb++] = c
    text = bom ? "\357\273\277" : ""
    for (a = 1; a <= nl; a++) if (!(a in del)) text = text L[a] (crlf ? "\r\n" : "\n")
    printf "%s", text > out
    size = length(text)
    for (b = 0; b < nb; b++) {
        c = byteops[b]
        if (c == 9) {   # a line of junk (any byte but NUL and newline) at a line start
            n = 0; a = ri(nl); o = 0
            for (k = 1; k <= size && n < a; k++) if (substr(text, k, 1) == "\n") { n++; o = k }
            t = ""; m = 1 + ri(60); for (k = 0; k < m; k++) { v = 1 + ri(255); if (v == 10) v = 11; t = t oct(v) }
            print "I " o " " t oct(10)
        } else if (c == 10) { n = 1 + ri(4); for (k = 0; k < n; k++) print "X " ri(size) " " 2 ^ ri(8) }
        else if (c == 11) { n = 1 + ri(4); for (k = 0; k < n; k++) print "W " ri(size) " " rbytes(1 + ri(4)) }
        else if (c == 12) cut = 1
    }
    if (cut) print "T " ri(size)   # last, so the other offsets stay inside the file
}'

declare -A C0 C2L C2F C2X
config_iteration() { # ITERATION
    local i=$1 s cls f=$T/cfg/mut.ini out=$T/out err=$T/err rc why=""
    s=$((SEED * 10007 + i))
    rm -rf "$T/cfg" "$T/cwd"; mkdir -p "$T/cfg" "$T/cwd"
    awk -v s="$s" -v cfg="$CFG" -v out="$f" "$CFGPLAN" >"$T/cfg/mut.plan"
    cls=$(sed -n '1s/^class //p' "$T/cfg/mut.plan")
    tail -n +2 "$T/cfg/mut.plan" | apply "$f" 1
    (cd "$T/cwd" && timeout -k 5 $TIMEOUT "$M" eval "$f" --policy random --set gate.eval_episodes=1 \
        --set sim.envs=1 --set train.minibatch=32 --json >"$out" 2>"$err" </dev/null); rc=$?
    if grep -Eq "$SANITIZER" "$err"; then why="sanitizer report"
    elif [ $rc = 124 ] || [ $rc = 137 ]; then why="no answer after ${TIMEOUT}s"
    elif [ $rc != 0 ] && [ $rc != 2 ]; then why="exit $rc"
    elif [ -n "$(ls -A "$T/cwd")" ]; then why="eval wrote into its working directory"
    elif [ $rc = 0 ] && ! grep -q '^{"policy":"random",.*}$' "$out"; then why="exit 0 without the JSON summary"
    elif [ $rc = 2 ] && [ ! -s "$err" ]; then why="exit 2 with no message"
    elif [ $rc = 2 ] && ! grep -qF "$f" "$err" && ! grep -Eq '^marlsim: (--set: )?\[[a-z]+\] [a-z_]+.*allowed: ' "$err"; then
        why="exit 2 without naming the file"
    fi
    if [ -n "$why" ]; then
        fail=$((fail + 1))
        echo "FAIL config iteration $i ($cls): $why  [FUZZ_SEED=$SEED FUZZ_ONLY=config:$i]"
        sed 's/^/  plan: /' "$T/cfg/mut.plan" | cut -c 1-200
        cat "$out" "$err" | head -n 40 | cut -c 1-300 | sed 's/^/  | /'
        cp "$err" "$T/cfg/mut.stderr"; cp "$out" "$T/cfg/mut.stdout"
        keep "config-$i" "$f" "$T/cfg/mut.plan" "$T/cfg/mut.stdout" "$T/cfg/mut.stderr"
        return
    fi
    pass=$((pass + 1))
    [ -z "$VERBOSE" ] || echo "  config $i $cls: exit $rc: $( (cat "$err"; [ $rc = 0 ] && head -c 60 "$out") | head -n 1 | cut -c 1-160)"
    if [ $rc = 0 ]; then C0[$cls]=$((${C0[$cls]:-0} + 1))
    elif grep -qF "marlsim: $f:" "$err" && grep -Eq '^marlsim: [^ ]*:[0-9]+: ' "$err"; then C2L[$cls]=$((${C2L[$cls]:-0} + 1))
    elif grep -qF "$f" "$err"; then C2F[$cls]=$((${C2F[$cls]:-0} + 1))
    else C2X[$cls]=$((${C2X[$cls]:-0} + 1)); fi
}

if [ "$NC" -gt 0 ] && [ "${ONLY%%:*}" != verify ]; then
    i=0
    while [ $i -lt "$NC" ]; do
        i=$((i + 1))
        want config $i || continue
        config_iteration $i
    done
    t0=0 tl=0 tf=0 tx=0
    for cls in delete-lines duplicate-line swap-lines move-key bad-value bad-key bad-section long-line format junk-line bit-flips overwrite truncate mixed; do
        a=${C0[$cls]:-0} b=${C2L[$cls]:-0} c=${C2F[$cls]:-0} d=${C2X[$cls]:-0}
        t0=$((t0 + a)) tl=$((tl + b)) tf=$((tf + c)) tx=$((tx + d))
        [ $((a + b + c + d)) = 0 ] || printf '  config %-14s %4d: exit 2 file:line %4d, exit 2 file %3d, exit 2 no file %3d, exit 0 %4d\n' \
            "$cls" $((a + b + c + d)) "$b" "$c" "$d" "$a"
    done
    echo "  config: $((tl + tf + tx)) rejected (file:line $tl, file only $tf, a cross-key constraint not naming the file $tx), $t0 accepted"
fi

echo "fuzz: $pass passed, $fail failed"
[ "$fail" = 0 ]
