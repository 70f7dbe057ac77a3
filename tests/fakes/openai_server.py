#!/usr/bin/python3
"""Fake OpenAI / Azure OpenAI embeddings server for Forge's tests (standard library only).

Speaks the real wire format:
  OpenAI: POST /v1/embeddings, header "Authorization: Bearer KEY"
  Azure:  POST /openai/deployments/DEP/embeddings?api-version=V, header "api-key: KEY"
  request  {"model", "input": str | [str], "dimensions"?, "encoding_format"?, "user"?}
           (Azure: "model" optional and ignored)
  response {"object": "list", "data": [{"object": "embedding", "index": i, "embedding": [...]}],
            "model": ..., "usage": {"prompt_tokens", "total_tokens"}}
  errors   {"error": {"message", "type", "param", "code"}}

Listens on 127.0.0.1, port 0 (or argv[1]); prints the port as the first line of stdout. Exits when
its stdin reaches EOF (so it never outlives the test that started it) or on SIGTERM.

Behaviour is chosen by the model name (OpenAI) or the deployment name (Azure):
  fake-429x2      429 with "Retry-After: 1" for the first two requests after a reset, then OK
  fake-500        always 500
  fake-slow       sleeps 3 s before answering (timeouts)
  fake-400        400 invalid_request_error
  fake-wrongdims  vectors one component longer than asked
  fake-shuffle    "data" in reverse index order
  fake-short      one embedding fewer than inputs
  fake-noauth     accepted without any credentials
  anything else   OK. Native sizes: text-embedding-3-small/ada-002 1536, -3-large 3072,
                  other names 8; "dimensions" overrides (not for ada-002).
The only valid key is VALID_KEY. A wrong key gets 401 whose message echoes the full key (real
OpenAI masks it; echoing it lets tests prove the client scrubs it).

Embedding of text t, component j (before L2 normalisation):
  d = sha256(utf8(t)); v[j] = (d[j % 32] - 127.5) / 128 + 0.001 * j

Control endpoints: POST /_control/reset clears counters; GET /_control/stats returns
  {"requests": N, "batches": [sizes...], "last": {"method", "path", "headers", "body"}}.
"""
import hashlib
import json
import math
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

VALID_KEY = "sk-test-0123456789abcdef"
NATIVE = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072,
          "text-embedding-ada-002": 1536}
MAX_INPUTS = 2048
SLOW_SECONDS = 3.0

LOCK = threading.Lock()
STATE = {"requests": 0, "batches": [], "last": None, "per_model": {}}


def embedding(text, dims):
    d = hashlib.sha256(text.encode("utf-8")).digest()
    v = [(d[j % 32] - 127.5) / 128.0 + 0.001 * j for j in range(dims)]
    n = math.sqrt(sum(x * x for x in v))
    return [float("%.8f" % (x / n)) for x in v]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-openai/1"

    def log_message(self, fmt, *args):  # keep test output clean
        pass

    def send_json(self, status, obj, headers=None):
        body = json.dumps(obj).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def error(self, status, message, etype, code=None, param=None, headers=None):
        self.send_json(status, {"error": {"message": message, "type": etype,
                                          "param": param, "code": code}}, headers)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    # -- control --------------------------------------------------------------------------
    def do_GET(self):
        if urlsplit(self.path).path == "/_control/stats":
            with LOCK:
                snap = {"requests": STATE["requests"], "batches": list(STATE["batches"]),
                        "last": STATE["last"]}
            self.send_json(200, snap)
            return
        self.error(404, "Not found", "invalid_request_error")

    def do_POST(self):
        raw = self.read_body()
        url = urlsplit(self.path)
        if url.path == "/_control/reset":
            with LOCK:
                STATE.update(requests=0, batches=[], last=None, per_model={})
            self.send_json(200, {"ok": True})
            return
        azure = False
        deployment = None
        parts = url.path.strip("/").split("/")
        if url.path == "/v1/embeddings":
            pass
        elif len(parts) == 4 and parts[0] == "openai" and parts[1] == "deployments" \
                and parts[3] == "embeddings":
            azure = True
            deployment = parts[2]
        else:
            self.error(404, "Invalid URL (POST %s)" % url.path, "invalid_request_error")
            return

        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            body = None
        with LOCK:
            STATE["requests"] += 1
            STATE["last"] = {"method": "POST", "path": self.path,
                             "headers": {k.lower(): v for k, v in self.headers.items()},
                             "body": body}
        self.embeddings(azure, deployment, url, body)

    def embeddings(self, azure, deployment, url, body):
        if not (self.headers.get("Content-Type") or "").startswith("application/json"):
            self.error(400, "Content-Type must be application/json", "invalid_request_error")
            return
        if not isinstance(body, dict):
            self.error(400, "We could not parse the JSON body of your request.",
                       "invalid_request_error")
            return
        behaviour = deployment if azure else body.get("model")
        if azure:
            if "api-version" not in parse_qs(url.query):
                self.error(404, "Resource not found", "invalid_request_error", code="404")
                return
            key = self.headers.get("api-key")
        else:
            auth = self.headers.get("Authorization") or ""
            key = auth[len("Bearer "):] if auth.startswith("Bearer ") else None
        if behaviour != "fake-noauth":
            if key is None:
                self.error(401, "You didn't provide an API key.", "invalid_request_error")
                return
            if key != VALID_KEY:
                self.error(401, "Incorrect API key provided: %s. You can find your API key at "
                           "https://platform.openai.com/account/api-keys." % key,
                           "invalid_request_error", code="invalid_api_key")
                return

        allowed = {"input", "model", "dimensions", "encoding_format", "user"}
        for k in body:
            if k not in allowed:
                self.error(400, "Unrecognized request argument supplied: %s" % k,
                           "invalid_request_error")
                return
        model = body.get("model")
        if not azure and not isinstance(model, str):
            self.error(400, "you must provide a model parameter", "invalid_request_error")
            return
        inputs = body.get("input")
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not inputs or len(inputs) > MAX_INPUTS or \
                not all(isinstance(t, str) and t for t in inputs):
            self.error(400, "'$.input' is invalid. Please check the API reference: "
                       "https://platform.openai.com/docs/api-reference.",
                       "invalid_request_error")
            return
        fmt = body.get("encoding_format", "float")
        if fmt not in ("float", "base64"):
            self.error(400, "Invalid encoding_format", "invalid_request_error",
                       param="encoding_format")
            return
        name = model if not azure else (model or deployment)
        dims = NATIVE.get(name, 8)
        if "dimensions" in body:
            d = body["dimensions"]
            if not isinstance(d, int) or isinstance(d, bool) or d < 1:
                self.error(400, "Invalid dimensions", "invalid_request_error",
                           param="dimensions")
                return
            if name == "text-embedding-ada-002":
                self.error(400, "This model does not support specifying dimensions.",
                           "invalid_request_error", param="dimensions")
                return
            dims = d

        with LOCK:
            seen = STATE["per_model"].get(behaviour, 0)
            STATE["per_model"][behaviour] = seen + 1
            STATE["batches"].append(len(inputs))

        if behaviour == "fake-429x2" and seen < 2:
            self.error(429, "Rate limit reached for requests", "requests",
                       code="rate_limit_exceeded", headers={"Retry-After": "1"})
            return
        if behaviour == "fake-500":
            self.error(500, "The server had an error while processing your request. Sorry "
                       "about that!", "server_error")
            return
        if behaviour == "fake-400":
            self.error(400, "This model's maximum context length is 8192 tokens, however you "
                       "requested 9000 tokens.", "invalid_request_error", param="input")
            return
        if behaviour == "fake-slow":
            time.sleep(SLOW_SECONDS)
        if behaviour == "fake-wrongdims":
            dims += 1

        data = [{"object": "embedding", "index": i, "embedding": embedding(t, dims)}
                for i, t in enumerate(inputs)]
        if behaviour == "fake-shuffle":
            data.reverse()
        if behaviour == "fake-short":
            data = data[:-1]
        tokens = sum(max(1, len(t.split())) for t in inputs)
        self.send_json(200, {"object": "list", "data": data, "model": name or "unknown",
                             "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})


def watch_stdin():
    try:
        while sys.stdin.buffer.read(4096):
            pass
    finally:
        os._exit(0)


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    srv.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    threading.Thread(target=watch_stdin, daemon=True).start()
    sys.stdout.write("%d\n" % srv.server_address[1])
    sys.stdout.flush()
    srv.serve_forever()


if __name__ == "__main__":
    main()
