#!/usr/bin/env python3
"""report_html.py FILE.html — the structure of a `marlsim report` file, as JSON.

Parses the file with the standard library's html.parser as XML-ish HTML:
every element except the void ones must be closed, in order. Prints one
JSON object:
  well_formed   bool, and "errors": what was wrong (unclosed / mismatched)
  tags          count per tag name
  tables        id -> list of rows, each a list of cell texts (th and td)
  svgs          id -> list of {"tag", "attrs"} of the elements inside
  empty         data-section of every <p class="empty">
  texts         id -> text of elements with an id that are not tables/svgs
  external      attribute values or CSS that would load something
                (http:, https:, //, url(, @import, src=)
Exit 0 when it could parse the file, 2 when not.
"""
import json
import re
import sys
from html.parser import HTMLParser

VOID = {"meta", "br", "hr", "img", "input", "link", "area", "base", "col", "embed", "source", "track", "wbr"}
# SVG elements written self-closed (<rect/>) arrive through handle_startendtag.


class Report(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []
        self.errors = []
        self.tags = {}
        self.tables = {}
        self.svgs = {}
        self.empty = []
        self.texts = {}
        self.external = []
        self.table = None  # id of the table being read
        self.row = None
        self.cell = None
        self.svg = None
        self.text_id = None
        self.text_buf = []
        self.empty_section = None
        self.in_style = False

    def _attrs(self, attrs):
        d = {}
        for k, v in attrs:
            d[k] = v if v is not None else ""
            if k == "xmlns":
                continue
            if v and re.search(r"(https?:|^//|url\()", v):
                self.external.append(f"{k}={v}")
            if k in ("src", "srcset"):
                self.external.append(f"{k}={v}")
            if k == "href" and v and not v.startswith("#"):
                self.external.append(f"{k}={v}")
        return d

    def handle_starttag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        a = self._attrs(attrs)
        if tag not in VOID:
            self.stack.append((tag, a.get("id")))
        if tag == "style":
            self.in_style = True
        if tag == "table":
            self.table = a.get("id", "")
            self.tables[self.table] = []
        elif tag == "tr" and self.table is not None:
            self.row = []
        elif tag in ("td", "th") and self.row is not None:
            self.cell = []
        elif tag == "svg":
            self.svg = a.get("id", "")
            self.svgs[self.svg] = []
        elif self.svg is not None:
            self.svgs[self.svg].append({"tag": tag, "attrs": a})
        elif tag == "p" and a.get("class") == "empty":
            self.empty.append(a.get("data-section"))
        elif a.get("id") and tag not in ("section",) and self.table is None:
            self.text_id = a["id"]
            self.text_buf = []

    def handle_startendtag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        a = self._attrs(attrs)
        if self.svg is not None and tag != "svg":
            self.svgs[self.svg].append({"tag": tag, "attrs": a})

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack:
            self.errors.append(f"</{tag}> closes nothing")
            return
        top, top_id = self.stack.pop()
        if top != tag:
            self.errors.append(f"</{tag}> closes <{top}>")
        if tag == "style":
            self.in_style = False
        if tag in ("td", "th") and self.cell is not None and self.row is not None:
            self.row.append("".join(self.cell).strip())
            self.cell = None
        elif tag == "tr" and self.row is not None and self.table is not None:
            self.tables[self.table].append(self.row)
            self.row = None
        elif tag == "table":
            self.table = None
        elif tag == "svg":
            self.svg = None
        if self.text_id is not None and top_id == self.text_id:
            self.texts[self.text_id] = "".join(self.text_buf).strip()
            self.text_id = None

    def handle_data(self, data):
        if self.in_style and re.search(r"(url\(|@import|https?:)", data):
            self.external.append("css: " + data[:60])
        if self.cell is not None:
            self.cell.append(data)
        if self.text_id is not None:
            self.text_buf.append(data)


def parse(path):
    """The structure of the report at path (see the module's doc)."""
    text = open(path, encoding="utf-8").read()
    p = Report()
    p.feed(text)
    p.close()
    errors = p.errors + [f"<{t}> never closed" for t, _ in p.stack]
    out = {
        "well_formed": not errors and text.startswith("<!DOCTYPE html>"),
        "errors": errors[:10],
        "tags": p.tags,
        "tables": p.tables,
        "svgs": p.svgs,
        "empty": p.empty,
        "texts": p.texts,
        "external": p.external,
    }
    return out


def main():
    if len(sys.argv) != 2:
        print("usage: report_html.py FILE.html", file=sys.stderr)
        return 2
    try:
        out = parse(sys.argv[1])
    except (OSError, UnicodeDecodeError) as err:
        print(f"report_html.py: {err}", file=sys.stderr)
        return 2
    json.dump(out, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
