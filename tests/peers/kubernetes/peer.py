#!/usr/bin/env python3
"""Test peer: a Kubernetes API server's apps/v1 Deployment endpoints, enough
for wharf's Kubernetes deploy target (shared/protocols.md section 3).

Speaks over a real socket: GET and PATCH (application/strategic-merge-patch+json)
/apis/apps/v1/namespaces/{ns}/deployments/{name}, bearer-token auth (401 Status),
404/415 Status bodies, and a simulated controller: after a spec change the
generation is observed after a short delay, then pods are replaced one by one
(updatedReplicas, availableReplicas, old replicas terminating). An image whose
reference contains "crashloop" never becomes available, and after the progress
deadline the Progressing condition turns False with ProgressDeadlineExceeded.

Test-only control endpoints (not Kubernetes): POST /peer/deployments creates
{namespace,name,image,replicas,container}; GET /peer/stats returns patch counts.
Deployment create/delete, Services and Ingresses: objects.py.

Usage: peer.py --token T [--port 0] [--step 0.2] [--deadline 2]
Prints "listening 127.0.0.1:PORT" on stdout once ready.
"""
import argparse
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import objects  # Deployment create/delete, Services, Ingresses (objects.py)

import pods  # pods, their logs and exec (pods.py)

PATH = re.compile(r"^/apis/apps/v1/namespaces/([^/]+)/deployments/([^/?]+)$")
LOCK = threading.Lock()
DEPLOYMENTS = {}  # (ns, name) -> dict
PATCHES = {}


def status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


class Controller:
    """The rollout a Deployment goes through after its spec changed."""

    def __init__(self, d, args):
        self.d, self.args = d, args

    def observe(self):
        d, now = self.d, time.time()
        spec, st = d["spec"], d["status"]
        wanted = spec.get("replicas", 1)
        since = now - d["_changed_at"]
        image = spec["template"]["spec"]["containers"][0].get("image", "")
        if d.get("_held"):  # POST /peer/hold (objects.py): the rollout waits
            d["_held_polls"] = d.get("_held_polls", 0) + 1
            return
        if since < self.args.step:
            return  # the controller has not seen the new generation yet
        st["observedGeneration"] = d["metadata"]["generation"]
        steps = int(since / self.args.step)
        if "crashloop" in image:
            st["updatedReplicas"] = min(wanted, 1)
            st["availableReplicas"] = 0
            st["replicas"] = wanted + st["updatedReplicas"]
            if since > self.args.deadline:
                set_condition(st, "Progressing", "False", "ProgressDeadlineExceeded",
                              'ReplicaSet "%s" has timed out progressing.' % d["metadata"]["name"])
            return
        updated = min(wanted, steps)
        old = max(0, wanted - updated) if steps <= wanted else 0
        st["updatedReplicas"] = updated
        st["replicas"] = updated + old
        st["availableReplicas"] = min(updated, max(0, steps - 1)) if updated < wanted else updated
        if updated >= wanted and st["availableReplicas"] >= wanted:
            set_condition(st, "Progressing", "True", "NewReplicaSetAvailable",
                          'ReplicaSet "%s" has successfully progressed.' % d["metadata"]["name"])
        else:
            set_condition(st, "Progressing", "True", "ReplicaSetUpdated", "progressing")


def set_condition(st, kind, value, reason, message):
    conditions = [c for c in st.setdefault("conditions", []) if c["type"] != kind]
    conditions.append({"type": kind, "status": value, "reason": reason, "message": message})
    st["conditions"] = conditions


def merge_by_name(current, patch):
    out = [dict(c) for c in current]
    for item in patch:
        for c in out:
            if c.get("name") == item.get("name"):
                for k, v in item.items():
                    if k == "env" and isinstance(v, list):
                        c["env"] = merge_by_name(c.get("env", []), v)
                    else:
                        c[k] = v
                break
        else:
            out.append(dict(item))
    return out


def strategic_merge(target, patch):
    for k, v in patch.items():
        if k == "containers" and isinstance(v, list):
            target[k] = merge_by_name(target.get(k, []), v)
        elif isinstance(v, dict) and isinstance(target.get(k), dict):
            strategic_merge(target[k], v)
        else:
            target[k] = v


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        sys.stderr.write("k8s-peer: " + (fmt % a) + "\n")

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
        if self.headers.get("Authorization") == "Bearer " + self.server.args.token:
            return True
        self.send_json(401, status(401, "Unauthorized", "Unauthorized"))
        return False

    def deployment(self):
        m = PATH.match(self.path.split("?")[0])
        if not m:
            self.send_json(404, status(404, "NotFound", "the server could not find the requested resource"))
            return None, None
        key = (m.group(1), m.group(2))
        d = DEPLOYMENTS.get(key)
        if d is None:
            self.send_json(404, status(404, "NotFound",
                                       'deployments.apps "%s" not found' % key[1]))
        return key, d

    def public(self, d):
        return {k: v for k, v in d.items() if not k.startswith("_")}

    def do_GET(self):
        if objects.handle(self, "GET", DEPLOYMENTS, LOCK):
            return
        if self.path == "/peer/stats":
            with LOCK:
                return self.send_json(200, {"%s/%s" % k: n for k, n in PATCHES.items()})
        if pods.get(self):
            return
        if not self.authorized():
            return
        with LOCK:
            key, d = self.deployment()
            if d is None:
                return
            Controller(d, self.server.args).observe()
            self.send_json(200, self.public(d))

    def do_PATCH(self):
        if objects.handle(self, "PATCH", DEPLOYMENTS, LOCK):
            return
        raw = self.body()
        if not self.authorized():
            return
        ctype = self.headers.get("Content-Type", "")
        if ctype != "application/strategic-merge-patch+json":
            return self.send_json(415, status(415, "UnsupportedMediaType",
                                              "the body of the request was in an unknown format"))
        try:
            patch = json.loads(raw)
        except ValueError as e:
            return self.send_json(400, status(400, "BadRequest", str(e)))
        with LOCK:
            key, d = self.deployment()
            if d is None:
                return
            before = json.dumps(d["spec"], sort_keys=True)
            strategic_merge(d, patch)
            if json.dumps(d["spec"], sort_keys=True) != before:
                d["metadata"]["generation"] += 1
                d["_changed_at"] = time.time()
                d["status"]["conditions"] = [c for c in d["status"].get("conditions", [])
                                             if c["type"] != "Progressing"]
            PATCHES[key] = PATCHES.get(key, 0) + 1
            self.send_json(200, self.public(d))

    def do_DELETE(self):
        if not objects.handle(self, "DELETE", DEPLOYMENTS, LOCK):
            self.send_json(404, status(404, "NotFound", "the server could not find the requested resource"))

    def do_POST(self):
        if objects.handle(self, "POST", DEPLOYMENTS, LOCK):
            return
        if pods.post(self):
            return
        if self.path != "/peer/deployments":
            return self.send_json(404, status(404, "NotFound", "no such control endpoint"))
        spec = json.loads(self.body())
        replicas = spec.get("replicas", 2)
        name = spec["name"]
        d = {
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": spec.get("namespace", "default"),
                         "generation": 1, "annotations": {}},
            "spec": {"replicas": replicas, "progressDeadlineSeconds": 600,
                     "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"annotations": {}, "labels": {"app": name}},
                                  "spec": {"containers": [{"name": spec.get("container", name),
                                                           "image": spec["image"]},
                                                          {"name": "sidecar", "image": "envoy:1"}]}}},
            "status": {"observedGeneration": 1, "replicas": replicas, "updatedReplicas": replicas,
                       "availableReplicas": replicas, "readyReplicas": replicas},
            "_changed_at": 0,
        }
        pods.attach(d)
        with LOCK:
            DEPLOYMENTS[(d["metadata"]["namespace"], name)] = d
        self.send_json(201, self.public(d))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--token", required=True)
    p.add_argument("--step", type=float, default=0.2, help="seconds per pod replaced")
    p.add_argument("--deadline", type=float, default=2.0, help="progress deadline for crashloop images")
    args = p.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.args = args
    pods.bind(DEPLOYMENTS, LOCK, status)
    print("listening 127.0.0.1:%d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
