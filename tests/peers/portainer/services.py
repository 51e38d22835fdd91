"""More of Portainer's Docker proxy for the test peer (peer.py), for wharf's
Swarm canaries (docs/canary.md#swarm): POST .../docker[/vX.Y]/services/create
(a new service from a full Spec; 409 when the name is taken) and DELETE
.../services/{id-or-name} (404 when missing). Test-only (no key): GET
/peer/services -> {name: {replicas, image, env, labels, ports, update_state,
held_polls}} of every service; POST /peer/hold {name,hold} holds a service's
update at "updating" (each inspect while held counts in held_polls).

peer.py calls handle() first in do_GET, do_POST and do_DELETE; it answers
True when it served the request.
"""
import json
import re
import secrets
from urllib.parse import urlparse

CREATE = re.compile(r"^/api/endpoints/(\d+)/docker(?:/v[0-9.]+)?/services/create$")
SERVICE = re.compile(r"^/api/endpoints/(\d+)/docker(?:/v[0-9.]+)?/services/([^/]+)$")


def summary(services):
    out = {}
    for s in services.values():
        spec = s["Spec"]
        out[spec["Name"]] = {
            "replicas": spec.get("Mode", {}).get("Replicated", {}).get("Replicas", 1),
            "image": spec["TaskTemplate"]["ContainerSpec"]["Image"],
            "env": spec["TaskTemplate"]["ContainerSpec"].get("Env", []),
            "labels": spec.get("Labels", {}),
            "ports": spec.get("EndpointSpec", {}).get("Ports", []),
            "update_state": (s.get("UpdateStatus") or {}).get("State", ""),
            "held_polls": s.get("_held_polls", 0),
        }
    return out


def handle(h, method, services, lock, find):
    path = urlparse(h.path).path
    if method == "GET" and path == "/peer/services":
        with lock:
            h.send_json(200, summary(services))
        return True
    if method == "POST" and path == "/peer/hold":
        spec = json.loads(h.body())
        with lock:
            s = find(spec["name"])
            if s is None:
                h.send_json(404, {"message": "service %s not found" % spec["name"]})
                return True
            s["_held"] = bool(spec.get("hold", True))
            s["_held_polls"] = 0
        h.send_json(201, {"name": spec["name"], "held": bool(spec.get("hold", True))})
        return True
    if method == "POST" and CREATE.match(path):
        raw = h.body()
        if not h.authorized():
            return True
        try:
            spec = json.loads(raw)
        except ValueError:
            h.send_json(400, {"message": "invalid JSON"})
            return True
        with lock:
            if find(spec.get("Name", "")) is not None:
                h.send_json(409, {"message": "rpc error: code = AlreadyExists desc = name conflicts "
                                             "with an existing object: service %s already exists"
                                             % spec.get("Name")})
                return True
            sid = secrets.token_hex(12)
            services[sid] = {"ID": sid, "Version": {"Index": 10}, "Spec": spec, "_updated_at": 0}
        h.send_json(201, {"ID": sid, "Warnings": None})
        return True
    m = SERVICE.match(path)
    if method == "DELETE" and m:
        if not h.authorized():
            return True
        with lock:
            s = find(m.group(2))
            if s is None:
                h.send_json(404, {"message": "service %s not found" % m.group(2)})
                return True
            del services[s["ID"]]
        h.send_response(200)
        h.send_header("Content-Length", "0")
        h.end_headers()
        return True
    return False
