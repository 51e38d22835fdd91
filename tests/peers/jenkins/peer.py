#!/usr/bin/env python3
"""Test peer: the slice of Jenkins' remote access API that wharf's Jenkins
build runner uses (shared/protocols.md section 2). Not Jenkins.

Speaks over a real socket:
  GET  /crumbIssuer/api/json                  crumb (404 with --crumb off)
  POST /job/A/job/B/buildWithParameters?K=V   201 + Location: /queue/item/<id>/
  POST [/job/F]/createItem?name=N             create a job from a config.xml body
  GET/POST /job/.../config.xml                read / replace the job's config.xml
  GET  /job/.../api/json[?tree=...]           job with builds[number,url,queueId,actions]
                                              (the newest 100, as Jenkins), or with
                                              tree=allBuilds[...]{M,N} that range of all
  GET  /queue/api/json                        queued items with their parameters
  GET  /queue/item/<id>/api/json              WaitingItem (why) or LeftItem
                                              (executable or cancelled)
  POST /queue/cancelItem?id=<id>              204, 404 for an unknown/left item
  GET  /job/.../<n>/api/json                  building, result, duration, artifacts
  GET  /job/.../<n>/logText/progressiveText?start=<byte>
                                              X-Text-Size, X-More-Data while running
  GET  /job/.../<n>/artifact/image.json       {"image": ..., "digest": ...}
  POST /job/.../<n>/stop                      302; the build ends ABORTED
Basic auth user:token on every API call (401 wrong, 403 anonymous). With
--crumb required a POST without the crumb header gets 403 "No valid crumb
was included in the request".

A build prints PEER_LINES lines (default 3), one every --step seconds, then
ends with PEER_RESULT (default SUCCESS). It archives image.json with image
IMAGE (default registry.test/<job>:<number>) and a digest derived from the
job, number and parameters. Builds wait in the queue for --queue-s seconds
and for a free executor (--executors).

Test-only control endpoints (no auth): POST /peer/jobs {"path","disabled"}
creates a job; GET /peer/stats -> {"builds_started","by_job","queued","cancelled"};
POST /peer/fail?count=N -> the next N API calls answer 500;
POST /peer/executors?n=N sets the executor count; POST /peer/garbage?count=N ->
the next N JSON answers are not JSON; POST /peer/seed?job=J&count=N adds N
finished builds to job J (not counted as started; they push older builds out
of the newest 100).

Usage: peer.py --user U --token T [--port 0] [--crumb required|optional|off]
               [--step 0.1] [--queue-s 0.1] [--executors 4]
Prints "listening 127.0.0.1:PORT" on stdout once ready.
"""
import argparse
import base64
import hashlib
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

LOCK = threading.RLock()
JOBS = {}     # "a/b" -> {"config", "disabled", "builds": [build], "next": 1}
QUEUE = {}    # id -> item
STATS = {"builds_started": 0, "by_job": {}, "queued": 0, "cancelled": 0}
FAULTS = {"fail": 0, "garbage": 0}
NEXT_QUEUE_ID = [1]
CRUMB = "c0ffee-crumb"
DEFAULT_CONFIG = "<flow-definition><description>made by the peer</description></flow-definition>"
JOB_PATH = re.compile(r"^((?:/job/[^/]+)+)(/.*)?$")


def job_name(prefix):
    return "/".join(p for i, p in enumerate(prefix.strip("/").split("/")) if i % 2 == 1)


def job_url(root, name):
    return root + "".join("/job/" + p for p in name.split("/")) + "/"


def tree_range(tree, size):
    """The slice a Jenkins tree range {M,N} / {M,} / {,N} / {N} selects."""
    m = re.search(r"\{(\d*)(,?)(\d*)\}\s*$", tree)
    if m is None:
        return slice(0, size)
    lo = int(m.group(1) or 0)
    if not m.group(2):
        return slice(lo, lo + 1)
    return slice(lo, int(m.group(3)) if m.group(3) else size)


def params_action(params):
    return {"_class": "hudson.model.ParametersAction",
            "parameters": [{"name": k, "value": v} for k, v in params.items()]}


class Build:
    def __init__(self, job, number, params, queue_id, step):
        self.job, self.number, self.params, self.queue_id = job, number, params, queue_id
        self.started = time.time()
        self.lines = int(params.get("PEER_LINES", "3"))
        self.result_wanted = params.get("PEER_RESULT", "SUCCESS")
        self.step = float(params.get("PEER_STEP", step))
        self.aborted_at = None
        self.image = params.get("IMAGE") or "registry.test/%s:%d" % (job.replace("/", "-"), number)
        seed = json.dumps([job, number, sorted(params.items())]).encode()
        self.digest = "sha256:" + hashlib.sha256(seed).hexdigest()

    @classmethod
    def finished(cls, job, number, params):
        b = cls(job, number, params, None, 0.001)
        b.lines, b.started = 0, time.time() - 3600
        return b

    def elapsed_lines(self):
        end = self.aborted_at or time.time()
        return min(self.lines, int((end - self.started) / self.step))

    def result(self):
        if self.aborted_at is not None:
            return "ABORTED"
        if self.elapsed_lines() >= self.lines and time.time() - self.started >= (self.lines + 1) * self.step:
            return self.result_wanted
        return None

    def text(self):
        out = ["Started by remote host wharf"]
        out += ["[wharf-peer] step %d of %d" % (i + 1, self.lines) for i in range(self.elapsed_lines())]
        r = self.result()
        if r is not None:
            if r == "ABORTED":
                out.append("Aborted by " + "wharf")
            out.append("Finished: " + r)
        return ("\n".join(out) + "\n").encode()

    def info(self, root):
        r = self.result()
        url = job_url(root, self.job) + "%d/" % self.number
        return {"_class": "org.jenkinsci.plugins.workflow.job.WorkflowRun", "number": self.number,
                "url": url, "building": r is None, "inProgress": r is None, "result": r,
                "queueId": self.queue_id, "timestamp": int(self.started * 1000),
                "duration": 0 if r is None else int((time.time() - self.started) * 1000),
                "estimatedDuration": int(self.lines * self.step * 1000),
                "description": None, "actions": [params_action(self.params)],
                "artifacts": [{"fileName": "image.json", "relativePath": "image.json",
                               "displayPath": "image.json"}] if r == "SUCCESS" else []}


def schedule(args):
    """Moves waiting items whose quiet time passed onto free executors."""
    while True:
        time.sleep(0.02)
        with LOCK:
            busy = sum(1 for j in JOBS.values() for b in j["builds"] if b.result() is None)
            for qid in sorted(QUEUE):
                item = QUEUE[qid]
                if item["left"] or time.time() - item["since"] < args.queue_s:
                    continue
                if busy >= args.executors:
                    break
                job = JOBS[item["job"]]
                number = job["next"]
                job["next"] += 1
                build = Build(item["job"], number, item["params"], qid, args.step)
                job["builds"].append(build)
                item["left"], item["number"], item["left_at"] = True, number, time.time()
                STATS["builds_started"] += 1
                STATS["by_job"][item["job"]] = STATS["by_job"].get(item["job"], 0) + 1
                busy += 1
            for qid in [q for q, i in QUEUE.items() if i["left"] and time.time() - i["left_at"] > 300]:
                del QUEUE[qid]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        if self.server.args.verbose:
            sys.stderr.write("jenkins-peer: " + (fmt % a) + "\n")

    def root(self):
        return "http://" + self.headers.get("Host", "127.0.0.1")

    def send(self, code, body=b"", ctype="text/plain;charset=UTF-8", headers=()):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def send_json(self, code, obj):
        with LOCK:
            garbage = FAULTS["garbage"] > 0
            if garbage:
                FAULTS["garbage"] -= 1
        if garbage:
            return self.send(code, '{"_class": "hudson.model.Hudson", "jobs": [tru', "application/json")
        self.send(code, json.dumps(obj), "application/json;charset=utf-8")

    def error_page(self, code, message):
        # Jenkins answers errors with an HTML page naming the problem.
        self.send(code, "<html><head><title>Error %d %s</title></head><body><h2>HTTP ERROR %d %s</h2>"
                        "</body></html>" % (code, message, code, message), "text/html;charset=utf-8",
                  [("X-Error", message)] if code != 401 else [("WWW-Authenticate", 'Basic realm="Jenkins"')])

    def body(self):
        n = int(self.headers.get("Content-Length", "0") or 0)
        return self.rfile.read(n) if n else b""

    def gate(self, post):
        """Auth, injected 500s, and the crumb check; False when answered."""
        with LOCK:
            if FAULTS["fail"] > 0:
                FAULTS["fail"] -= 1
                self.error_page(500, "Server Error (injected by the test)")
                return False
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Basic "):
            self.error_page(403, "Authentication required")
            return False
        want = "%s:%s" % (self.server.args.user, self.server.args.token)
        if base64.b64decode(auth[6:]).decode(errors="replace") != want:
            self.error_page(401, "Invalid password/token for user: %s" %
                            base64.b64decode(auth[6:]).decode(errors="replace").split(":")[0])
            return False
        if post and self.server.args.crumb == "required" and self.headers.get("Jenkins-Crumb") != CRUMB:
            self.error_page(403, "No valid crumb was included in the request")
            return False
        return True

    def find_job(self, path):
        """(name, rest of the path, job) for a /job/... path; None once answered 404."""
        m = JOB_PATH.match(path)
        with LOCK:
            job = JOBS.get(job_name(m.group(1))) if m else None
        if job is None:
            self.error_page(404, "Not Found")
            return None
        return job_name(m.group(1)), m.group(2) or "/", job

    def split(self):
        parts = urlsplit(self.path)
        return parts.path, dict(parse_qsl(parts.query, keep_blank_values=True))

    # ---- control endpoints -------------------------------------------------
    def control(self, method, path, query):
        if method == "GET" and path == "/peer/stats":
            with LOCK:
                return self.send(200, json.dumps(STATS), "application/json")
        if method == "POST" and path == "/peer/jobs":
            spec = json.loads(self.body())
            with LOCK:
                JOBS[spec["path"]] = {"config": spec.get("config", DEFAULT_CONFIG),
                                      "disabled": spec.get("disabled", False), "builds": [], "next": 1}
            return self.send(201, "{}", "application/json")
        if method == "POST" and path == "/peer/fail":
            with LOCK:
                FAULTS["fail"] = int(query.get("count", "1"))
            return self.send(200, "{}", "application/json")
        if method == "POST" and path == "/peer/garbage":
            with LOCK:
                FAULTS["garbage"] = int(query.get("count", "1"))
            return self.send(200, "{}", "application/json")
        if method == "POST" and path == "/peer/seed":
            with LOCK:
                job = JOBS[query["job"]]
                for _ in range(int(query.get("count", "1"))):
                    job["builds"].append(Build.finished(query["job"], job["next"], {"SEEDED": str(job["next"])}))
                    job["next"] += 1
            return self.send(200, "{}", "application/json")
        if method == "POST" and path == "/peer/executors":
            self.server.args.executors = int(query.get("n", "1"))
            return self.send(200, "{}", "application/json")
        self.send(404, "no such control endpoint")

    # ---- Jenkins -----------------------------------------------------------
    def do_GET(self):
        path, query = self.split()
        if path.startswith("/peer/"):
            return self.control("GET", path, query)
        if not self.gate(False):
            return
        if path == "/crumbIssuer/api/json":
            if self.server.args.crumb == "off":
                return self.error_page(404, "Not Found")
            return self.send_json(200, {"_class": "hudson.security.csrf.DefaultCrumbIssuer",
                                        "crumb": CRUMB, "crumbRequestField": "Jenkins-Crumb"})
        if path == "/queue/api/json":
            with LOCK:
                items = [self.queue_item(i) for i in QUEUE.values() if not i["left"]]
            return self.send_json(200, {"_class": "hudson.model.Queue", "items": items})
        m = re.match(r"^/queue/item/(\d+)/api/json$", path)
        if m:
            with LOCK:
                item = QUEUE.get(int(m.group(1)))
                if item is None:
                    return self.error_page(404, "Not Found")
                return self.send_json(200, self.queue_item(item))
        found = self.find_job(path)
        if found is None:
            return
        name, rest, job = found
        with LOCK:
            if rest == "/api/json":
                builds = [{"_class": "org.jenkinsci.plugins.workflow.job.WorkflowRun",
                           "number": b.number, "url": job_url(self.root(), name) + "%d/" % b.number,
                           "queueId": b.queue_id, "actions": [params_action(b.params)]}
                          for b in reversed(job["builds"])]
                out = {"_class": "org.jenkinsci.plugins.workflow.job.WorkflowJob", "name": name.split("/")[-1],
                       "fullName": name, "url": job_url(self.root(), name), "buildable": not job["disabled"]}
                tree = query.get("tree", "")
                if tree.startswith("allBuilds"):
                    out["allBuilds"] = builds[tree_range(tree, len(builds))]
                else:
                    out["builds"] = builds[:100]  # Jenkins' `builds`: the newest 100 only
                return self.send_json(200, out)
            if rest == "/config.xml":
                return self.send(200, job["config"], "application/xml")
            m2 = re.match(r"^/(\d+)(/.*)$", rest)
            build = None
            if m2:
                n = int(m2.group(1))
                build = next((b for b in job["builds"] if b.number == n), None)
            if build is None:
                return self.error_page(404, "Not Found")
            sub = m2.group(2)
            if sub == "/api/json":
                return self.send_json(200, build.info(self.root()))
            if sub == "/logText/progressiveText":
                text = build.text()
                running = build.result() is None
                start = int(query.get("start", "0"))
                if start > len(text):
                    start = 0
                chunk = text[start:]
                headers = [("X-Text-Size", str(start + len(chunk)))]
                if running:
                    headers.append(("X-More-Data", "true"))
                return self.send(200, chunk, headers=headers)
            if sub == "/artifact/image.json" and build.result() == "SUCCESS":
                return self.send(200, json.dumps({"image": build.image, "digest": build.digest}),
                                 "application/json")
        self.error_page(404, "Not Found")

    def queue_item(self, item):
        base = {"id": item["id"], "inQueueSince": int(item["since"] * 1000), "params": "",
                "task": {"name": item["job"].split("/")[-1], "url": job_url(self.root(), item["job"])},
                "url": "queue/item/%d/" % item["id"], "actions": [params_action(item["params"])],
                "blocked": False, "stuck": False}
        if item["left"]:
            base.update({"_class": "hudson.model.Queue$LeftItem", "why": None, "buildable": False,
                         "cancelled": item["cancelled"],
                         "executable": None if item["cancelled"] else {
                             "number": item["number"],
                             "url": job_url(self.root(), item["job"]) + "%d/" % item["number"]}})
        else:
            waiting = time.time() - item["since"] < self.server.args.queue_s
            base.update({"_class": "hudson.model.Queue$WaitingItem" if waiting else
                         "hudson.model.Queue$BuildableItem", "buildable": not waiting,
                         "why": "In the quiet period." if waiting else
                         "Waiting for next available executor"})
        return base

    def do_POST(self):
        path, query = self.split()
        if path.startswith("/peer/"):
            return self.control("POST", path, query)
        raw = self.body()
        if not self.gate(True):
            return
        if path == "/queue/cancelItem":
            with LOCK:
                item = QUEUE.get(int(query.get("id", "0")))
                if item is None or item["left"]:
                    return self.error_page(404, "Not Found")
                item["left"], item["cancelled"], item["left_at"] = True, True, time.time()
                STATS["cancelled"] += 1
            return self.send(204)
        m = re.match(r"^((?:/job/[^/]+)*)/createItem$", path)
        if m:
            name = "/".join(filter(None, [job_name(m.group(1)) if m.group(1) else "", query.get("name", "")]))
            with LOCK:
                if not query.get("name"):
                    return self.error_page(400, "Query parameter 'name' is required")
                if name in JOBS:
                    return self.error_page(400, "A job already exists with the name '%s'" % query["name"])
                JOBS[name] = {"config": raw.decode(), "disabled": False, "builds": [], "next": 1}
            return self.send(200)
        found = self.find_job(path)
        if found is None:
            return
        name, rest, job = found
        with LOCK:
            if rest == "/config.xml":
                job["config"] = raw.decode()
                return self.send(200)
            if rest in ("/buildWithParameters", "/build"):
                if job["disabled"]:
                    return self.error_page(409, "Conflict: %s is disabled" % name)
                params = dict(query)
                if raw and self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
                    params.update(dict(parse_qsl(raw.decode(), keep_blank_values=True)))
                for k in ("delay", "token", "cause"):
                    params.pop(k, None)
                for item in QUEUE.values():  # identical parameters coalesce (303, no new item)
                    if not item["left"] and item["job"] == name and item["params"] == params:
                        return self.send(303, headers=[("Location", self.root() + "/queue/item/%d/" % item["id"])])
                qid = NEXT_QUEUE_ID[0]
                NEXT_QUEUE_ID[0] += 1
                QUEUE[qid] = {"id": qid, "job": name, "params": params, "since": time.time(),
                              "left": False, "cancelled": False, "number": None, "left_at": 0}
                STATS["queued"] += 1
                return self.send(201, headers=[("Location", self.root() + "/queue/item/%d/" % qid)])
            m2 = re.match(r"^/(\d+)/(stop|term|kill)$", rest)
            if m2:
                build = next((b for b in job["builds"] if b.number == int(m2.group(1))), None)
                if build is None:
                    return self.error_page(404, "Not Found")
                if build.result() is None:
                    build.aborted_at = time.time()
                return self.send(302, headers=[("Location", job_url(self.root(), name) + m2.group(1) + "/")])
        self.error_page(404, "Not Found")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--user", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--crumb", choices=["required", "optional", "off"], default="optional")
    p.add_argument("--step", type=float, default=0.1, help="seconds per console line")
    p.add_argument("--queue-s", type=float, default=0.1, help="quiet period of a queued build")
    p.add_argument("--executors", type=int, default=4)
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.args = args
    threading.Thread(target=schedule, args=(args,), daemon=True).start()
    print("listening 127.0.0.1:%d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
