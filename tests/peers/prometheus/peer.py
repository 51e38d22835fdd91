#!/usr/bin/env python3
"""Test peer: the instant-query endpoint of Prometheus' HTTP API, enough for
wharf's automatic canary analysis (docs/canary.md#analysis), over a real
socket.

GET /api/v1/query?query=Q -> 200 {"status":"success","data":{"resultType":
"vector","result":[{"metric":{},"value":[<unix time>,"<number>"]}]}} with the
value set for Q, or an empty result when none is set; a request without a
query answers 400 {"status":"error","errorType":"bad_data","error":...}, as
Prometheus does. POST is accepted too (form-encoded query), like Prometheus.

Control endpoints for tests (not Prometheus): POST /peer/value
{"query": Q, "value": "0.2"} sets Q's answer (value null: an empty result);
GET /peer/stats -> {"Q": number of queries answered} per query.

Usage: peer.py [--port 0]; prints "listening 127.0.0.1:PORT" once ready.
"""
import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

LOCK = threading.Lock()
VALUES = {}   # query -> "number" (a string, as Prometheus sends it)
QUERIES = {}  # query -> number of answers


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        sys.stderr.write("prometheus-peer: " + (fmt % a) + "\n")

    def send_json(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("Content-Length", "0") or 0)
        return self.rfile.read(n) if n else b""

    def query(self, params):
        q = params.get("query", [""])[0]
        if not q:
            return self.send_json(400, {"status": "error", "errorType": "bad_data",
                                        "error": "invalid parameter \"query\": empty query"})
        with LOCK:
            value = VALUES.get(q)
            QUERIES[q] = QUERIES.get(q, 0) + 1
        result = [] if value is None else [{"metric": {}, "value": [time.time(), value]}]
        self.send_json(200, {"status": "success",
                             "data": {"resultType": "vector", "result": result}})

    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/api/v1/query":
            return self.query(parse_qs(url.query))
        if url.path == "/peer/stats":
            with LOCK:
                return self.send_json(200, dict(QUERIES))
        self.send_json(404, {"status": "error", "errorType": "not_found", "error": "not found"})

    def do_POST(self):
        url = urlparse(self.path)
        raw = self.body()
        if url.path == "/api/v1/query":
            return self.query(parse_qs(raw.decode()))
        if url.path == "/peer/value":
            spec = json.loads(raw)
            value = spec.get("value")
            with LOCK:
                if value is None:
                    VALUES.pop(spec["query"], None)
                else:
                    VALUES[spec["query"]] = str(value)
            return self.send_json(201, {"query": spec["query"], "value": value})
        self.send_json(404, {"status": "error", "errorType": "not_found", "error": "not found"})


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, default=0)
    args = p.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print("listening 127.0.0.1:%d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
