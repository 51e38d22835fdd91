"""More of the Kubernetes API for the test peer (peer.py), for wharf's
canaries (docs/canary.md#kubernetes): creating and deleting apps/v1
Deployments (the created ones roll out through peer.py's controller),
v1 Services and networking.k8s.io/v1 Ingresses (create, get, merge-patch
with null removing a key, delete), 404/409 Status bodies.

Test-only control endpoints (not Kubernetes, no token): POST /peer/services
{namespace,name,selector,ports}, POST /peer/ingresses {namespace,name,service,
host,annotations}, POST /peer/hold {namespace,name,hold} (hold a Deployment's
rollout back), GET /peer/objects?namespace=NS (every Deployment's replicas,
image, labels, annotations, generations and polls while held, and every
Service and Ingress, by name).

peer.py calls handle() first in each do_<METHOD>; it answers True when it
served the request.
"""
import json
import re
import time
from urllib.parse import parse_qs, urlparse

DEPLOYMENT_COLLECTION = re.compile(r"^/apis/apps/v1/namespaces/([^/]+)/deployments$")
DEPLOYMENT = re.compile(r"^/apis/apps/v1/namespaces/([^/]+)/deployments/([^/?]+)$")
KINDS = {
    "services": (re.compile(r"^/api/v1/namespaces/([^/]+)/services(?:/([^/?]+))?$"),
                 "v1", "Service"),
    "ingresses": (re.compile(r"^/apis/networking\.k8s\.io/v1/namespaces/([^/]+)/ingresses(?:/([^/?]+))?$"),
                  "networking.k8s.io/v1", "Ingress"),
}
OBJECTS = {"services": {}, "ingresses": {}}  # kind -> (ns, name) -> object


def status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


def merge_patch(target, patch):
    """RFC 7386: objects merge, null removes, anything else replaces."""
    for k, v in patch.items():
        if v is None:
            target.pop(k, None)
        elif isinstance(v, dict) and isinstance(target.get(k), dict):
            merge_patch(target[k], v)
        else:
            target[k] = v


def new_deployment(obj, ns):
    d = json.loads(json.dumps(obj))
    meta = d.setdefault("metadata", {})
    meta["namespace"] = ns
    meta["generation"] = 1
    meta.setdefault("annotations", {})
    d.setdefault("spec", {}).setdefault("replicas", 1)
    d["status"] = {"observedGeneration": 0, "replicas": 0, "updatedReplicas": 0,
                   "availableReplicas": 0}
    d["_changed_at"] = time.time()
    return d


def public(d):
    return {k: v for k, v in d.items() if not k.startswith("_")}


def summary(deployments, objects, ns):
    out = {"deployments": {}, "services": {}, "ingresses": {}}
    for (dns, name), d in deployments.items():
        if dns != ns:
            continue
        c = d["spec"]["template"]["spec"]["containers"][0]
        out["deployments"][name] = {
            "replicas": d["spec"].get("replicas", 1), "image": c.get("image", ""),
            "labels": d["spec"]["template"].get("metadata", {}).get("labels", {}),
            "annotations": d["metadata"].get("annotations", {}),
            "generation": d["metadata"].get("generation", 1),
            "observed_generation": d["status"].get("observedGeneration", 0),
            "held_polls": d.get("_held_polls", 0)}
    for kind in ("services", "ingresses"):
        for (ons, name), o in objects[kind].items():
            if ons == ns:
                out[kind][name] = o
    return out


def handle(h, method, deployments, lock):
    """Serves the request on handler `h` when it is one of ours."""
    url = urlparse(h.path)
    path = url.path
    if method == "POST" and path in ("/peer/services", "/peer/ingresses"):
        spec = json.loads(h.body())
        ns = spec.get("namespace", "default")
        if path == "/peer/services":
            o = {"apiVersion": "v1", "kind": "Service",
                 "metadata": {"name": spec["name"], "namespace": ns},
                 "spec": {"selector": spec.get("selector", {"app": spec["name"]}),
                          "ports": spec.get("ports", [{"port": 80, "targetPort": 8080}])}}
            kind = "services"
        else:
            o = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                 "metadata": {"name": spec["name"], "namespace": ns,
                              "annotations": spec.get("annotations", {})},
                 "spec": {"ingressClassName": "nginx", "rules": [{
                     "host": spec.get("host", "web.example"),
                     "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {
                         "service": {"name": spec["service"], "port": {"number": 80}}}}]}}]}}
            kind = "ingresses"
        with lock:
            OBJECTS[kind][(ns, spec["name"])] = o
        h.send_json(201, o)
        return True
    if method == "POST" and path == "/peer/hold":
        # {namespace,name,hold}: while held, the controller does not observe
        # the Deployment's new generation (its rollout waits); each GET while
        # held is counted in /peer/objects as "held_polls".
        spec = json.loads(h.body())
        key = (spec.get("namespace", "default"), spec["name"])
        with lock:
            d = deployments.get(key)
            if d is None:
                h.send_json(404, status(404, "NotFound", 'deployments.apps "%s" not found' % key[1]))
                return True
            d["_held"] = bool(spec.get("hold", True))
            d["_held_polls"] = 0
            h.send_json(201, {"name": key[1], "held": d["_held"]})
        return True
    if method == "GET" and path == "/peer/objects":
        ns = parse_qs(url.query).get("namespace", ["default"])[0]
        with lock:
            h.send_json(200, summary(deployments, OBJECTS, ns))
        return True

    m = DEPLOYMENT_COLLECTION.match(path)
    if m and method == "POST":
        raw = h.body()
        if not h.authorized():
            return True
        d = new_deployment(json.loads(raw), m.group(1))
        key = (m.group(1), d["metadata"]["name"])
        with lock:
            if key in deployments:
                h.send_json(409, status(409, "AlreadyExists",
                                        'deployments.apps "%s" already exists' % key[1]))
                return True
            deployments[key] = d
            h.send_json(201, public(d))
        return True
    m = DEPLOYMENT.match(path)
    if m and method == "DELETE":
        if not h.authorized():
            return True
        with lock:
            if deployments.pop((m.group(1), m.group(2)), None) is None:
                h.send_json(404, status(404, "NotFound", 'deployments.apps "%s" not found' % m.group(2)))
            else:
                h.send_json(200, {"kind": "Status", "apiVersion": "v1", "status": "Success"})
        return True

    for kind, (pattern, api_version, kind_name) in KINDS.items():
        m = pattern.match(path)
        if not m:
            continue
        raw = h.body() if method in ("POST", "PATCH") else b""
        if not h.authorized():
            return True
        ns, name = m.group(1), m.group(2)
        store = OBJECTS[kind]
        with lock:
            if method == "POST" and name is None:
                o = json.loads(raw)
                o.setdefault("metadata", {})["namespace"] = ns
                key = (ns, o["metadata"]["name"])
                if key in store:
                    h.send_json(409, status(409, "AlreadyExists",
                                            '%s "%s" already exists' % (kind, key[1])))
                else:
                    o["apiVersion"], o["kind"] = api_version, kind_name
                    store[key] = o
                    h.send_json(201, o)
                return True
            if name is None:
                h.send_json(405, status(405, "MethodNotAllowed", "the server does not allow this method"))
                return True
            o = store.get((ns, name))
            if o is None:
                h.send_json(404, status(404, "NotFound", '%s "%s" not found' % (kind, name)))
                return True
            if method == "GET":
                h.send_json(200, o)
            elif method == "PATCH":
                ctype = h.headers.get("Content-Type", "")
                if ctype not in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
                    h.send_json(415, status(415, "UnsupportedMediaType",
                                            "the body of the request was in an unknown format"))
                    return True
                merge_patch(o, json.loads(raw))
                h.send_json(200, o)
            elif method == "DELETE":
                del store[(ns, name)]
                h.send_json(200, {"kind": "Status", "apiVersion": "v1", "status": "Success"})
            else:
                h.send_json(405, status(405, "MethodNotAllowed", "the server does not allow this method"))
        return True
    return False
