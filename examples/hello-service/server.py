#!/usr/bin/env python3
"""hello-service: a tiny HTTP service that says which version it is.

GET /        -> "hello-service <version> (<environment>)"
GET /healthz -> "ok"
The version comes from the VERSION file the build put beside this script;
the port from $PORT (the local deploy target sets it).
"""
import http.server
import os
import pathlib
import signal
import sys

HERE = pathlib.Path(__file__).resolve().parent
VERSION = (HERE / "VERSION").read_text().strip() if (HERE / "VERSION").exists() else "dev"
ENVIRONMENT = os.environ.get("WHARF_ENVIRONMENT", "local")
GREETING = os.environ.get("GREETING", "hello")


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/healthz":
            body = "ok\n"
        elif self.path == "/":
            body = f"{GREETING} from hello-service {VERSION} ({ENVIRONMENT})\n"
        elif self.path == "/version":
            body = VERSION + "\n"
        else:
            self.send_error(404)
            return
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        sys.stderr.write("hello-service: " + (fmt % args) + "\n")


def main():
    port = int(os.environ.get("PORT", "8000"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"hello-service {VERSION} listening on 127.0.0.1:{port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
