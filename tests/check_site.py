"""Reads a built status site as its consumers would, and prints what it found as JSON.

usage: check_site.py SITE_DIR PAGE_PREFIX

- api/v2/summary.json and status.json validated against Statuspage's public shape
  (tests/fixtures/statuspage/summary.schema.json) with jsonschema, date-times checked;
- history.atom parsed by feedparser (the feed parser most readers are built on).
"""

import json
import pathlib
import sys

import feedparser
import jsonschema

site, prefix = pathlib.Path(sys.argv[1]), sys.argv[2]
schema = json.loads(
    (pathlib.Path(__file__).parent / "fixtures/statuspage/summary.schema.json").read_text()
)
checker = jsonschema.Draft202012Validator(
    schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
)
out = {"schema_errors": []}
for name in ("summary.json", "status.json"):
    doc = json.loads((site / prefix / "api/v2" / name).read_text())
    for e in checker.iter_errors(doc):
        out["schema_errors"].append(f"{name}: {'/'.join(map(str, e.absolute_path))}: {e.message}")
    if name == "summary.json":
        out["components"] = {c["id"]: c["status"] for c in doc.get("components", [])}
        out["indicator"] = doc["status"]["indicator"]
        out["incidents"] = len(doc.get("incidents", []))

feed = feedparser.parse(str(site / prefix / "history.atom"))
out["feed"] = {
    "bozo": bool(feed.bozo),
    "bozo_exception": str(feed.get("bozo_exception", "")),
    "version": feed.version,
    "language": feed.feed.get("language"),
    "title": feed.feed.get("title"),
    "entries": [
        {"id": e.get("id"), "title": e.get("title"), "published": e.get("published"), "summary": e.get("summary")}
        for e in feed.entries
    ],
}
print(json.dumps(out))
