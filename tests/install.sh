#!/usr/bin/env bash
# tests/install.sh — make installcheck: `make install DESTDIR=tmp` installs
# each file; a C program built only against the installed header and
# library (shared, then static) runs an episode; the installed Python
# package, loading the installed library, plays the same episode and prints
# the same lines. Last line "install: N passed, N failed".
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2
MAKE=${MAKE:-make}
PYTHON=${PYTHON:-/usr/bin/python3}
PREFIX=/usr/local
pass=0 fail=0
ok() { echo "PASS $1"; pass=$((pass + 1)); }
ko() { echo "FAIL $1"; fail=$((fail + 1)); }
T=$(mktemp -d "${TMPDIR:-/tmp}/lib-install.XXXXXX") || exit 2
trap 'rm -rf "$T"' EXIT
D=$T/root

if $MAKE --no-print-directory install DESTDIR="$D" PREFIX=$PREFIX >"$T/make.log" 2>&1; then
    ok "make install DESTDIR=... PREFIX=$PREFIX"
else
    tail -20 "$T/make.log"
    ko "make install DESTDIR=..."
fi

# Each file, and nothing written outside DESTDIR's PREFIX.
VERSION=$(sed -n 's/^#define MS_VERSION "\(.*\)"/\1/p' base/version.h)
PYDIR=$PREFIX/lib/python3.$($PYTHON -c 'import sys; print(sys.version_info[1])')/dist-packages
want="bin/marlsim lib/libmarlsim.a lib/libmarlsim.so.$VERSION lib/libmarlsim.so.${VERSION%%.*} lib/libmarlsim.so
lib/pkgconfig/marlsim.pc include/marlsim.h share/marlsim/default.ini share/man/man1/marlsim.1
share/doc/marlsim/README.md share/doc/marlsim/environment.md share/doc/marlsim/lake.md share/doc/marlsim/python.md"
for f in python/marlsim/*.py; do want="$want ${PYDIR#$PREFIX/}/marlsim/${f##*/}"; done
want="$want ${PYDIR#$PREFIX/}/marlsim/_installed.py"
missing="" extra=""
for f in $want; do [ -e "$D$PREFIX/$f" ] || missing="$missing $f"; done
got=$(cd "$D$PREFIX" && find . \( -type f -o -type l \) | sed 's|^\./||' | sort)
for f in $got; do case " $(echo $want) " in *" $f "*) ;; *) extra="$extra $f" ;; esac; done
outside=$(cd "$D" && find . \( -type f -o -type l \) | grep -v "^\.$PREFIX/")
if [ -z "$missing" ] && [ -z "$extra" ] && [ -z "$outside" ]; then
    ok "every file is installed ($(echo $want | wc -w)), nothing else, nothing outside PREFIX"
else
    ko "installed files: missing:$missing; unexpected:$extra $outside"
fi
[ "$(readlink "$D$PREFIX/lib/libmarlsim.so")" = "libmarlsim.so.${VERSION%%.*}" ] &&
    [ "$(objdump -p "$D$PREFIX/lib/libmarlsim.so.$VERSION" | awk '/SONAME/ { print $2 }')" = "libmarlsim.so.${VERSION%%.*}" ] &&
    [ -z "$(nm -D --defined-only "$D$PREFIX/lib/libmarlsim.so" | awk '$2 != "A" && $3 !~ /^marlsim_/')" ] &&
    [ -z "$(nm -g --defined-only "$D$PREFIX/lib/libmarlsim.a" | awk 'NF == 3 && $3 !~ /^marlsim_/')" ] &&
    ok "soname libmarlsim.so.${VERSION%%.*}; only marlsim_* symbols exported (.so and .a)" ||
    ko "soname or exported symbols"
man -l "$D$PREFIX/share/man/man1/marlsim.1" >/dev/null 2>&1 && ok "the installed man page renders" ||
    ko "the installed man page renders"

# A C program against the installed header and library only.
export PKG_CONFIG_PATH=$D$PREFIX/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$D
CFLAGS="-std=c11 -Wall -Wextra -Werror"
CONFIG=$D$PREFIX/share/marlsim/default.ini
if cc $CFLAGS -o "$T/episode" tests/install/episode.c $(pkg-config --cflags --libs marlsim) 2>"$T/cc.log" &&
    LD_LIBRARY_PATH=$D$PREFIX/lib "$T/episode" "$CONFIG" 64 >"$T/c.txt" 2>"$T/c.err" &&
    [ "$(grep -c "^step " "$T/c.txt")" = 64 ] && LD_LIBRARY_PATH=$D$PREFIX/lib ldd "$T/episode" | grep -q "$D$PREFIX/lib/libmarlsim.so"; then
    ok "a C program built against the installed marlsim.h and libmarlsim.so runs an episode"
else
    cat "$T/cc.log" "$T/c.err"
    ko "C program against the installed shared library"
fi
if cc $CFLAGS -o "$T/episode-static" tests/install/episode.c -I"$D$PREFIX/include" "$D$PREFIX/lib/libmarlsim.a" \
    $(pkg-config --libs --static marlsim | sed 's/-lmarlsim//; s/-L[^ ]*//') 2>"$T/cc2.log" &&
    "$T/episode-static" "$CONFIG" 64 >"$T/c2.txt" && cmp -s "$T/c.txt" "$T/c2.txt" &&
    ! ldd "$T/episode-static" | grep -q libmarlsim; then
    ok "the same program linked with libmarlsim.a runs the same episode"
else
    cat "$T/cc2.log"
    ko "C program against the installed static library"
fi

# The installed Python package, on the installed library: the same lines.
if PYTHONPATH=$D$PYDIR MARLSIM_LIB=$D$PREFIX/lib/libmarlsim.so.${VERSION%%.*} $PYTHON - "$CONFIG" 64 >"$T/py.txt" 2>"$T/py.err" <<'PY'
import sys
import marlsim
env = marlsim.VecEnv(sys.argv[1], stream="report")
env.reset()
for t in range(int(sys.argv[2])):
    _, _, _, _, info = env.step(env.reference_actions("heuristic"))
    s = 0.0
    for r in info["reward"]:
        s += float(r)
    c = [int((info["outcome"] == k).sum()) for k in range(4)]
    print("step %d reward %s outcomes %d %d %d %d" % (t, repr(s) if s != int(s) else "%d" % s, *c))
print("marlsim %s, %d mailboxes" % (marlsim.__version__, env.num_envs))
PY
then
    # %.17g and repr differ in form, not value: compare as numbers.
    if $PYTHON - "$T/c.txt" "$T/py.txt" <<'PY'
import sys
a, b = (open(p).read().split("\n") for p in sys.argv[1:])
def norm(line):
    f = line.split()
    return [float(x) if i == 3 and f[0] == "step" else x for i, x in enumerate(f)]
sys.exit(0 if len(a) == len(b) and all(norm(x) == norm(y) for x, y in zip(a, b)) else 1)
PY
    then
        ok "the installed Python package plays the same episode as the C program, step for step"
    else
        diff "$T/c.txt" "$T/py.txt" | head
        ko "Python and C trajectories differ"
    fi
else
    cat "$T/py.err"
    ko "the installed Python package runs"
fi

echo "install: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
