#!/usr/bin/env python3
"""scan.py ROOT — two checks of the compliance lint (make lint, tests/lint.sh).

banned functions: calls, in the C sources (comments and string literals
  stripped), of the functions BANNED names, each with why. A call may stay
  only with `lint-allow: REASON` (a reason of 10 characters or more) in a
  comment on its line.
key-like literals: in every tracked text file (C, shell, Python, docs),
  runs of 64+ hex digits or 43+ base64 characters (32 bytes or more: the
  size of every key marlsim holds) that look random (more than 3.2 bits of
  entropy per character for hex, 4.2 for base64; the standard alphabet
  itself excepted). Published test vectors are allowed one by one in
  tests/lint/keylike-allow.txt: FILE PREFIX REASON (PREFIX = the literal's
  first 20 characters), or by `lint-allow-key: REASON` on the line.

Prints one line per finding, "FILE:LINE: banned NAME: why" or
"FILE:LINE: key-like literal PREFIX...", then "scan: N findings".
Exit 0 none, 1 findings, 2 usage.
"""
import math
import os
import re
import subprocess
import sys

BANNED = {
    'strcpy': 'unbounded copy (overflow); use snprintf or a length-checked memcpy',
    'strcat': 'unbounded append (overflow); use snprintf',
    'sprintf': 'unbounded formatting (overflow); use snprintf',
    'vsprintf': 'unbounded formatting (overflow); use vsnprintf',
    'gets': 'unbounded read, removed from C11',
    'strncpy': 'leaves the copy unterminated when the source is long; use snprintf or lk_copy_str',
    'strncat': 'its bound is easy to get wrong (space left, not size); use snprintf',
    'system': 'runs a shell: command injection; keyring cmd: uses posix_spawn with a fixed argv',
    'popen': 'runs a shell: command injection',
    'rand': 'a hidden global generator: breaks determinism (SPEC 8) and is no source of secrets; use base/rng.h or RAND_priv_bytes',
    'srand': 'seeds the hidden global generator (see rand)',
    'random': 'a hidden global generator (see rand)',
    'srandom': 'seeds the hidden global generator (see rand)',
    'drand48': 'a hidden global generator (see rand)',
    'atoi': 'no error detection, undefined on overflow; use strtol with an end check',
    'atol': 'no error detection, undefined on overflow; use strtol with an end check',
    'atoll': 'no error detection, undefined on overflow; use strtoll with an end check',
    'atof': 'no error detection; use strtod with an end check',
    'strtok': 'hidden global state, not reentrant; use strtok_r or an explicit scan',
    'tmpnam': 'a name another process can take first; use mkstemp',
    'tempnam': 'a name another process can take first; use mkstemp',
    'mktemp': 'a name another process can take first; use mkstemp',
    'alloca': 'unbounded stack allocation',
}
C_EXT = ('.c', '.h')
TEXT_EXT = C_EXT + ('.sh', '.py', '.md', '.ini', '.in', '.map', '.1', '.go', '.txt')
B64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
ALLOW_FILE = 'tests/lint/keylike-allow.txt'


def strip_c(text):
    """Comments and string/char literals replaced by spaces (lines kept)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith('//', i):
            j = text.find('\n', i)
            j = n if j < 0 else j
            out.append(' ' * (j - i))
            i = j
        elif text.startswith('/*', i):
            j = text.find('*/', i + 2)
            j = n if j < 0 else j + 2
            out.append(''.join('\n' if ch == '\n' else ' ' for ch in text[i:j]))
            i = j
        elif c in '"\'':
            j = i + 1
            while j < n and text[j] != c and text[j] != '\n':
                j += 2 if text[j] == '\\' else 1
            j = min(j + 1, n)
            out.append(' ' * (j - i))
            i = j
        else:
            out.append(c)
            i += 1
    return ''.join(out)


def entropy(s):
    counts = {}
    for ch in s:
        counts[ch] = counts.get(ch, 0) + 1
    return -sum(v / len(s) * math.log2(v / len(s)) for v in counts.values())


def files(root):
    try:
        out = subprocess.run(['git', '-C', root, 'ls-files', '-co', '--exclude-standard'], capture_output=True,
                             text=True, check=True).stdout.split('\n')
    except (OSError, subprocess.CalledProcessError):
        out = [os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs]
    skip = ('build', 'build-asan', 'runs', '.git')
    return sorted(p for p in out if p and not p.split('/')[0] in skip and os.path.isfile(os.path.join(root, p)))


def main():
    if len(sys.argv) != 2:
        print('usage: scan.py ROOT', file=sys.stderr)
        return 2
    root = sys.argv[1]
    allow = set()
    try:
        for ln in open(os.path.join(root, ALLOW_FILE), encoding='utf-8'):
            parts = ln.split(None, 2)
            if ln.startswith('#') or len(parts) < 3 or len(parts[2].strip()) < 10:
                continue
            allow.add((parts[0], parts[1]))
    except OSError:
        pass
    call = re.compile(r'\b(' + '|'.join(BANNED) + r')\s*\(')
    hexrun = re.compile(r'[0-9a-fA-F]{64,}')
    b64run = re.compile(r'[A-Za-z0-9+/]{43,}={0,2}')
    findings = 0
    for path in files(root):
        if not path.endswith(TEXT_EXT) or path == ALLOW_FILE:
            continue
        try:
            text = open(os.path.join(root, path), encoding='utf-8', errors='replace').read()
        except OSError:
            continue
        raw = text.split('\n')
        if path.endswith(C_EXT):
            for k, line in enumerate(strip_c(text).split('\n')):
                for m in call.finditer(line):
                    # a member or another identifier ending in the name is not a call of it
                    if m.start() > 0 and line[m.start() - 1] in '.>':
                        continue
                    why = re.search(r'lint-allow: (.*?)\s*(\*/|$)', raw[k])
                    if why and len(why.group(1)) >= 10:
                        continue
                    print(f'{path}:{k + 1}: banned {m.group(1)}: {BANNED[m.group(1)]}')
                    findings += 1
        for k, line in enumerate(raw):
            if 'lint-allow-key: ' in line:
                continue
            seen = []
            for m in list(hexrun.finditer(line)) + list(b64run.finditer(line)):
                if any(a <= m.start() and m.end() <= b for a, b in seen):
                    continue  # a hex run is also base64: one finding
                seen.append(m.span())
                s = m.group(0)
                is_hex = bool(re.fullmatch(r'[0-9a-fA-F]+', s))
                core = s.rstrip('=')
                if core in B64_ALPHABET or entropy(core) <= (3.2 if is_hex else 4.2):
                    continue
                if (path, s[:20]) in allow:
                    continue
                print(f'{path}:{k + 1}: key-like literal {s[:20]}... (allow it in {ALLOW_FILE} only if published)')
                findings += 1
    print(f'scan: {findings} findings')
    return 1 if findings else 0


if __name__ == '__main__':
    sys.exit(main())
