#!/bin/sh
# docs/sync.sh DOCGEN [--check] FILE... — the generated parts of the docs.
#
# A generated part sits between a line containing "generated: NAME" and one
# containing "end generated: NAME" (in a roff or HTML comment); its text is
# what `DOCGEN NAME` prints (docs/docgen.c). Without --check each FILE is
# rewritten in place; with --check nothing is written, each stale FILE is
# named, and the exit status is 1 when any is stale ("run make docs").
set -u
if [ $# -lt 2 ]; then
    echo "usage: docs/sync.sh DOCGEN [--check] FILE..." >&2
    exit 2
fi
gen=$1
shift
check=0
if [ "$1" = --check ]; then
    check=1
    shift
fi
status=0
for f in "$@"; do
    tmp=$(mktemp "${TMPDIR:-/tmp}/lib-docsync.XXXXXX") || exit 2
    if ! awk -v gen="$gen" '
        /end generated: / { skip = 0 }
        !skip { print }
        /generated: [a-z-]+/ && !/end generated: / {
            match($0, /generated: [a-z-]+/)
            name = substr($0, RSTART + 11, RLENGTH - 11)
            cmd = gen " " name
            n = 0
            while ((cmd | getline line) > 0) { print line; n++ }
            if (close(cmd) != 0 || n == 0) { print "docs/sync.sh: " cmd " failed" > "/dev/stderr"; bad = 1 }
            skip = 1
        }
        END { if (skip) { print "docs/sync.sh: " FILENAME ": a generated part has no end" > "/dev/stderr"; bad = 1 }
              exit bad }' "$f" >"$tmp"; then
        rm -f "$tmp"
        exit 2
    fi
    if cmp -s "$f" "$tmp"; then
        rm -f "$tmp"
    elif [ $check = 1 ]; then
        echo "$f: its generated parts differ from what the code says (run make docs)" >&2
        diff "$f" "$tmp" | head -20 >&2
        rm -f "$tmp"
        status=1
    else
        cat "$tmp" >"$f" && rm -f "$tmp" && echo "docs/sync.sh: updated $f"
    fi
done
exit $status
