#!/usr/bin/env python3
"""png_colours.py SHOT.png NAME=RRGGBB:MIN ... — does a screenshot show these colours?

Decodes the PNG with the standard library only (zlib; 8-bit greyscale, RGB
or RGBA, not interlaced: what Chromium writes), counts the pixels within 6
of each colour per channel, and prints one line per colour:
  NAME #RRGGBB: N pixels (need MIN), rows Y0-Y1, columns X0-X1
Exit 0 when every colour has at least MIN pixels, 1 when one has fewer,
2 when the file cannot be decoded.
"""
import struct
import sys
import zlib


def decode(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, hdr = 8, [], None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    w, h, depth, ctype, _, _, interlace = hdr
    if depth != 8 or interlace or ctype not in (0, 2, 6):
        raise ValueError(f"unsupported PNG (depth {depth}, colour type {ctype}, interlace {interlace})")
    bpp = {0: 1, 2: 3, 6: 4}[ctype]
    raw = zlib.decompress(b"".join(idat))
    stride = w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows


def main():
    if len(sys.argv) < 3:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 2
    try:
        w, h, bpp, rows = decode(sys.argv[1])
    except (OSError, ValueError, zlib.error, struct.error, TypeError) as err:
        print(f"png_colours.py: {sys.argv[1]}: {err}", file=sys.stderr)
        return 2
    want = []
    for arg in sys.argv[2:]:
        name, rest = arg.split("=")
        hexc, mn = rest.split(":")
        want.append((name, tuple(int(hexc[i:i + 2], 16) for i in (0, 2, 4)), int(mn)))
    stats = {name: [0, h, -1, w, -1] for name, _, _ in want}
    for y, line in enumerate(rows):
        for x in range(w):
            px = line[x * bpp:x * bpp + 3] if bpp >= 3 else bytes([line[x]] * 3)
            for name, rgb, _ in want:
                if abs(px[0] - rgb[0]) <= 6 and abs(px[1] - rgb[1]) <= 6 and abs(px[2] - rgb[2]) <= 6:
                    s = stats[name]
                    s[0] += 1
                    s[1], s[2], s[3], s[4] = min(s[1], y), max(s[2], y), min(s[3], x), max(s[4], x)
    ok = True
    print(f"{sys.argv[1]}: {w}x{h} pixels")
    for name, rgb, mn in want:
        n, y0, y1, x0, x1 = stats[name]
        ok &= n >= mn
        where = f", rows {y0}-{y1}, columns {x0}-{x1}" if n else ""
        print(f"  {name} #{rgb[0]:02x}{rgb[1]:02x}{rgb[2]:02x}: {n} pixels (need {mn}){where}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
