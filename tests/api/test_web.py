"""The web dashboard as served by the binary (src/http/web.c, docs/dashboard.md): index.html and
client-side routes for browsers, embedded assets with cache and content headers, gzip
negotiation, strict CSP, and the JSON API's 404s left alone."""
import gzip
import re
import time

from forgetest import Forge, assert_error, main

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def index(f):
    r = f.get("/", headers=HTML)
    assert r.status == 200, r
    return r


def assets(f):
    body = index(f).body
    js = re.search(r'src="(/assets/app-[A-Z0-9]+\.js)"', body).group(1)
    css = re.search(r'href="(/assets/app-[A-Z0-9]+\.css)"', body).group(1)
    return js, css


def test_index_headers(f):
    r = index(f)
    assert r.header("Content-Type") == "text/html; charset=utf-8"
    assert r.header("Cache-Control") == "no-cache"
    csp = r.header("Content-Security-Policy")
    assert "script-src 'self'" in csp and "style-src 'self'" in csp, csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, csp
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
    assert r.header("X-Frame-Options") == "DENY"
    assert r.header("X-Content-Type-Options") == "nosniff"
    # no inline script or style in the page itself
    assert "<script>" not in r.body and "<style" not in r.body and " style=" not in r.body
    assert '<link rel="manifest" href="/manifest.webmanifest">' in r.body
    # "/" works without an Accept header too (curl, probes)
    assert f.get("/").status == 200


def test_assets_cache_type_and_gzip(f):
    js, css = assets(f)
    r = f.get(js)
    assert r.status == 200, r
    assert r.header("Content-Type") == "text/javascript; charset=utf-8"
    assert r.header("Cache-Control") == "public, max-age=31536000, immutable"
    assert r.header("Content-Encoding") is None
    assert r.header("Vary") and "Accept-Encoding" in r.header("Vary")
    plain = r.body
    assert f.get(css).header("Content-Type") == "text/css; charset=utf-8"
    # gzip when accepted; identical bytes after decompression
    import http.client
    for ae, gz in [("gzip", True), ("gzip, deflate, br", True), ("br;q=1, gzip;q=0.5", True),
                   ("gzip;q=0", False), ("gzip;q=0.000", False), ("identity", False),
                   ("deflate", False)]:
        conn = http.client.HTTPConnection("127.0.0.1", f.port, timeout=10)
        conn.request("GET", js, headers={"Accept-Encoding": ae})
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        assert resp.status == 200
        assert (resp.getheader("Content-Encoding") == "gzip") == gz, (ae, resp.getheaders())
        text = gzip.decompress(data).decode() if gz else data.decode()
        assert text == plain, ae
        if gz:
            assert len(data) < len(plain)


def test_client_routes_and_unknown_paths(f):
    home = index(f).body
    for path in ["/capsules", "/capsules/0190abcd-0000-7000-8000-000000000000", "/governance",
                 "/admin/users", "/system", "/login", "/no/such/page"]:
        r = f.get(path, headers=HTML)
        assert r.status == 200, (path, r)
        assert r.body == home, path
        assert r.header("Cache-Control") == "no-cache"
        assert r.header("Vary") and "Accept" in r.header("Vary").split(", "), r.headers
    # API clients (no text/html in Accept) keep the JSON 404
    assert_error(f.get("/capsules"), 404, "not_found")
    assert_error(f.get("/capsules", headers={"Accept": "application/json"}), 404, "not_found")
    assert_error(f.get("/capsules", headers={"Accept": "text/html;q=0"}), 404, "not_found")
    # the API namespace never falls back to the app
    for path in ["/api/v1/nothing", "/api", "/api/v2/x"]:
        r = f.get(path, headers=HTML)
        assert_error(r, 404, "not_found")
        assert r.header("Cache-Control") == "no-store"
    # missing hashed files stay 404 (never HTML served as script)
    assert_error(f.get("/assets/app-DEADBEEF.js", headers=HTML), 404, "not_found")
    # only GET and HEAD
    assert_error(f.post("/capsules", body={}, headers=HTML), 404, "not_found")
    r = f.request("HEAD", "/capsules", headers=HTML)
    assert r.status == 200 and r.body == "", r
    # API routes are untouched
    assert f.get("/health", headers=HTML).header("Content-Type") == "application/json"


def test_manifest_and_icons(f):
    import json
    r = f.get("/manifest.webmanifest")
    assert r.status == 200
    assert r.header("Content-Type") == "application/manifest+json"
    assert r.header("Cache-Control") == "no-cache"
    m = json.loads(r.body)
    assert m["start_url"] == "/" and m["display"] == "standalone"
    sizes = set()
    for icon in m["icons"]:
        ri = f.get(icon["src"])
        assert ri.status == 200, icon
        assert ri.header("Content-Type") == icon["type"]
        assert "immutable" in ri.header("Cache-Control")
        sizes.add(icon["sizes"])
    assert {"192x192", "512x512"} <= sizes


def test_metrics_label_and_no_rate_limit():
    f = Forge(env={"RATE_LIMIT_REQUESTS_PER_MINUTE": "2"})
    try:
        for _ in range(5):
            assert index(f).status == 200  # static files are not rate-limited
        # A request is counted when the server has finished it, which can be just after the
        # client has its answer (seen under ASan): poll for a bounded time.
        deadline = time.monotonic() + 10
        while True:
            text = f.get("/metrics").body
            m = re.search(r'^http_requests_total\{method="GET",route="/\{dashboard\}",'
                          r'status="200"\} (\d+)$', text, re.M)
            if (m and int(m.group(1)) >= 5) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert m and int(m.group(1)) >= 5, [ln for ln in text.splitlines()
                                           if ln.startswith("http_requests_total")]
    finally:
        f.close()


if __name__ == "__main__":
    main(globals())
