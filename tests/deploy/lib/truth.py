#!/usr/bin/env python3
"""Documents tell the truth (issue 20): three checks over the source tree and a running server.

  truth.py config SRC              every variable of the config table is read by some code
                                   outside src/util/config.{c,h}
  truth.py routes SRC OPENAPI      every API path a document under docs/ names (runbooks,
                                   operations docs, design docs) is served by the router, i.e. it
                                   matches a path of the live /openapi.json
  truth.py metrics SRC METRICS     every metric an alert, recording rule or dashboard queries is
                                   exported by the live /metrics (families are zero-initialised)

Each prints one line per problem and exits 1 when there is any.
"""
import json
import os
import re
import sys


def src_files(root, exts):
    for d, _, files in os.walk(root):
        for f in files:
            if f.endswith(exts):
                yield os.path.join(d, f)


# A variable listed here is knowingly read by nothing but the configuration check itself; each
# entry says why, and the documents must say the same (here: docs/operations say "planned").
ALLOWED_UNUSED = {
    "FORGE_MASTER_KEY": "required and validated in production so that deployments provision it "
                        "before envelope encryption (SPEC §9) is delivered; it encrypts nothing yet",
}


def check_config(src):
    cfg = os.path.join(src, "src/util/config.c")
    text = open(cfg, encoding="utf-8").read()
    entries = re.findall(r'^\s*(?:B|I|S|D|E|SEC)\("([A-Z0-9_]+)",\s*([a-z0-9_]+)', text, re.M)
    if len(entries) < 20:
        print("could not read the config table from %s (%d entries)" % (cfg, len(entries)))
        return 1
    corpus = []
    skip = {os.path.join(src, "src/util/config.c"), os.path.join(src, "src/util/config.h")}
    for f in src_files(os.path.join(src, "src"), (".c", ".h")):
        if f not in skip:
            corpus.append(open(f, encoding="utf-8", errors="replace").read())
    corpus = "\n".join(corpus)
    bad = 0
    for name, field in entries:
        if name in ALLOWED_UNUSED:
            continue
        if not re.search(r"(->|\.)%s\b" % re.escape(field), corpus):
            print("%s (field %s) is parsed but used by nothing in src/" % (name, field))
            bad += 1
    return 1 if bad else 0


PLACEHOLDER = re.compile(r"^(\{.*\}|<.*>|\$\{?[A-Za-z_]+\}?|:[a-z_]+|[A-Z_]{2,}|\.\.\.|"
                         r"[0-9a-f]{8}-[0-9a-f-]{27,}|[0-9]+)$")
DOC_PATH = re.compile(r"(/api/v1(?:/[A-Za-z0-9_{}<>$:.\-]+)*|/health(?:/[a-z]+)?|/metrics\b|"
                      r"/openapi\.json)")


def seg_match(doc, tmpl):
    if tmpl.startswith("{") and tmpl.endswith("}"):
        return True
    if PLACEHOLDER.match(doc):
        return False if not (tmpl.startswith("{")) else True
    return doc == tmpl


def path_served(path, templates):
    ds = path.strip("/").split("/")
    for t in templates:
        ts = t.strip("/").split("/")
        if len(ts) == len(ds) and all(seg_match(d, s) for d, s in zip(ds, ts)):
            return True
    return False


def check_routes(src, openapi):
    spec = json.load(open(openapi, encoding="utf-8"))
    templates = list(spec.get("paths", {}).keys())
    if len(templates) < 10:
        print("openapi.json lists %d paths: not the live route table" % len(templates))
        return 1
    bad = 0
    for f in sorted(src_files(os.path.join(src, "docs"), (".md",))):
        for ln, line in enumerate(open(f, encoding="utf-8"), 1):
            if "**planned**" in line or "not built" in line.lower():
                continue  # a line that says the feature is not delivered may name its route
            for m in DOC_PATH.finditer(line):
                p = m.group(1).rstrip(".:")
                p = p.split("?")[0]
                if p in ("/api/v1", "/api/v1/"):
                    continue
                if not path_served(p, templates):
                    print("%s:%d names %s, which the router does not serve"
                          % (os.path.relpath(f, src), ln, p))
                    bad += 1
    return 1 if bad else 0


METRIC = re.compile(r"(?<![A-Za-z0-9_:])((?:forge|http|process)_[a-z0-9_]+)(?![A-Za-z0-9_:])")


def check_metrics(src, metrics_file):
    exported = set()
    for line in open(metrics_file, encoding="utf-8"):
        m = re.match(r"# TYPE (\S+) (\S+)", line)
        if m:
            exported.add(m.group(1))
            if m.group(2) in ("histogram", "summary"):
                for suf in ("_bucket", "_sum", "_count"):
                    exported.add(m.group(1) + suf)
    if len(exported) < 10:
        print("/metrics exported only %d families: not a live scrape" % len(exported))
        return 1
    files = [os.path.join(src, "deploy/monitoring/alerts.yaml")]
    files += sorted(src_files(os.path.join(src, "deploy/monitoring/dashboards"), (".json",)))
    bad = 0
    for f in files:
        seen = set()
        for name in METRIC.findall(open(f, encoding="utf-8").read()):
            if name not in exported and name not in seen:
                seen.add(name)
                print("%s queries %s, which the server never exports"
                      % (os.path.relpath(f, src), name))
                bad += 1
    return 1 if bad else 0


def main(argv):
    if len(argv) >= 3 and argv[1] == "config":
        return check_config(argv[2])
    if len(argv) >= 4 and argv[1] == "routes":
        return check_routes(argv[2], argv[3])
    if len(argv) >= 4 and argv[1] == "metrics":
        return check_metrics(argv[2], argv[3])
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
