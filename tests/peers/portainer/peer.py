#!/usr/bin/env python3
"""Test peer: Portainer's API in front of a Docker Swarm, enough for wharf's
Swarm deploy target (shared/protocols.md section 4), over a real socket.

POST /api/auth {username,password} -> 200 {"jwt"} or 422; requests carry
"Authorization: Bearer <jwt>" or "X-API-Key" (401 otherwise; --api-key and
--password set what is accepted, POST /peer/credentials changes it and drops
every session); GET /api/status answers the version. The Docker
proxy: GET /api/endpoints/{id}/docker[/vX.Y]/services/{id-or-name} (inspect,
with the extra "Portainer" key), POST .../services/{id}/update?version=N
(full spec replace; a stale version answers 500 "update out of sequence";
rollback=previous swaps back to PreviousSpec). After an update the simulated
orchestrator reports UpdateStatus "updating", then "completed" — or, for an
image containing "crashloop", "paused" with the daemon's message.

Control endpoints for tests (not Portainer): POST /peer/services
{name,image,replicas}, GET /peer/stats (updates per service), POST
/peer/bump?service=NAME (a concurrent change lands just before the next
update, which then is out of sequence), POST
/peer/expire (every JWT issued so far stops working). Service create and
delete, GET /peer/services: services.py.

Usage: peer.py [--port 0] [--step 0.3]; prints "listening 127.0.0.1:PORT".
"""
import argparse
import copy
import json
import re
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import services  # services/create, DELETE, GET /peer/services (services.py)

import containers  # tasks, service logs, docker exec (containers.py)

USER, PASSWORD, API_KEY = "admin", "hunter2hunter2", "ptr_testkey"
LOCK = threading.Lock()
SERVICES = {}  # id -> service
JWTS = set()
UPDATES = {}
SERVICE = re.compile(r"^/api/endpoints/(\d+)/docker(?:/v[0-9.]+)?/services/([^/]+)(/update)?$")


def find(ref):
    if ref in SERVICES:
        return SERVICES[ref]
    for s in SERVICES.values():
        if s["Spec"]["Name"] == ref:
            return s
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        pass

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

    def authorized(self):
        key = self.headers.get("X-API-Key")
        auth = self.headers.get("Authorization", "")
        if key == self.server.args.api_key or (auth.startswith("Bearer ") and auth[7:] in JWTS):
            return True
        self.send_json(401, {"message": "Invalid JWT token", "details": "Unauthorized"})
        return False

    def observe(self, s):
        st = s.get("UpdateStatus")
        if not st or st["State"] != "updating":
            return
        if s.get("_held"):  # POST /peer/hold (services.py): the update goes on
            s["_held_polls"] = s.get("_held_polls", 0) + 1
            return
        if time.time() - s["_updated_at"] < self.server.args.step:
            return
        if "crashloop" in s["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]:
            st.update(State="paused", Message="update paused due to failure or early termination of task x1")
        else:
            st.update(State="completed", Message="update completed")

    def public(self, s):
        out = {k: v for k, v in s.items() if not k.startswith("_")}
        out["Portainer"] = {"ResourceControl": None}
        return out

    def do_GET(self):
        if services.handle(self, "GET", SERVICES, LOCK, find):
            return
        if self.path == "/peer/stats":
            with LOCK:
                return self.send_json(200, UPDATES)
        if not self.authorized() or containers.get(self):
            return
        if self.path == "/api/status":  # what wharf's reachability probe reads
            return self.send_json(200, {"Version": "2.21.0-peer", "InstanceID": "peer"})
        m = SERVICE.match(urlparse(self.path).path)
        if not m or m.group(3):
            return self.send_json(404, {"message": "page not found"})
        with LOCK:
            s = find(m.group(2))
            if s is None:
                return self.send_json(404, {"message": "service %s not found" % m.group(2)})
            self.observe(s)
            self.send_json(200, self.public(s))

    def do_DELETE(self):
        if not services.handle(self, "DELETE", SERVICES, LOCK, find):
            self.send_json(404, {"message": "page not found"})

    def do_POST(self):
        if services.handle(self, "POST", SERVICES, LOCK, find):
            return
        url = urlparse(self.path)
        q = parse_qs(url.query)
        raw = self.body()
        if url.path == "/api/auth":
            try:
                creds = {k.lower(): v for k, v in json.loads(raw).items()}
            except ValueError:
                return self.send_json(400, {"message": "Invalid request payload"})
            if creds.get("username") != USER or creds.get("password") != self.server.args.password:
                return self.send_json(422, {"message": "Invalid credentials"})
            jwt = secrets.token_hex(16)
            with LOCK:
                JWTS.add(jwt)
            return self.send_json(200, {"jwt": jwt})
        if url.path == "/peer/credentials":  # rotation: the old ones are refused from now on
            change = json.loads(raw)
            with LOCK:
                self.server.args.api_key = change.get("api_key", self.server.args.api_key)
                self.server.args.password = change.get("password", self.server.args.password)
                JWTS.clear()
            return self.send_json(200, {})
        if url.path == "/peer/services":
            spec = json.loads(raw)
            sid = secrets.token_hex(12)
            with LOCK:
                SERVICES[sid] = {
                    "ID": sid, "Version": {"Index": 10},
                    "Spec": {"Name": spec["name"], "Labels": {},
                             "TaskTemplate": {"ContainerSpec": {"Image": spec["image"],
                                                                "Env": ["KEEP=1"]},
                                              "ForceUpdate": 0},
                             "Mode": {"Replicated": {"Replicas": spec.get("replicas", 2)}},
                             "EndpointSpec": {"Ports": [{"TargetPort": 8080, "PublishedPort": 80}]},
                             "UpdateConfig": {"Parallelism": 1, "FailureAction": "pause"}},
                    "_updated_at": 0,
                }
            return self.send_json(201, {"ID": sid})
        if url.path == "/peer/bump":
            with LOCK:  # someone else changes the service just before wharf's next update
                find(q["service"][0])["_stale_next"] = True
            return self.send_json(200, {})
        if url.path == "/peer/expire":
            with LOCK:
                JWTS.clear()
            return self.send_json(200, {})
        if containers.post(self, raw) or not self.authorized() or containers.post_authorized(self, raw):
            return
        m = SERVICE.match(url.path)
        if not m or not m.group(3):
            return self.send_json(404, {"message": "page not found"})
        with LOCK:
            s = find(m.group(2))
            if s is None:
                return self.send_json(404, {"message": "service %s not found" % m.group(2)})
            if s.pop("_stale_next", False):
                s["Version"]["Index"] += 1
            if q.get("version", [""])[0] != str(s["Version"]["Index"]):
                return self.send_json(500, {"message": "rpc error: code = Unknown desc = update out of sequence"})
            if q.get("rollback", [""])[0] == "previous":
                if "PreviousSpec" not in s:
                    return self.send_json(500, {"message": "service does not have a previous spec"})
                s["Spec"], s["PreviousSpec"] = s["PreviousSpec"], s["Spec"]
            else:
                try:
                    new_spec = json.loads(raw)
                except ValueError:
                    return self.send_json(400, {"message": "invalid JSON"})
                s["PreviousSpec"] = copy.deepcopy(s["Spec"])
                s["Spec"] = new_spec
            s["Version"]["Index"] += 1
            s["UpdateStatus"] = {"State": "updating", "Message": "update in progress"}
            s["_updated_at"] = time.time()
            UPDATES[s["Spec"]["Name"]] = UPDATES.get(s["Spec"]["Name"], 0) + 1
            self.send_json(200, {"Warnings": None})


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--step", type=float, default=0.3, help="seconds an update takes")
    p.add_argument("--api-key", default=API_KEY, help="the access token X-API-Key must carry")
    p.add_argument("--password", default=PASSWORD, help="admin's password for /api/auth")
    args = p.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.args = args
    containers.bind(SERVICES, LOCK, find)
    print("listening 127.0.0.1:%d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
