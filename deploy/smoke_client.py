"""The recipe's smoke test, run by deploy/smoke.sh against a stack from deploy/run-stack.sh.

Through nginx (HTTPS): readiness, static files (hashed URL cached a year, gzip, HSTS), a trainee
signs in and answers. Directly on the two instances: a live question with the facilitator on
instance A and the participant on instance B, the rate limit shared through Redis, and the metrics
of each instance. Standard library only. Exit status 0 when every check passed.
"""
from __future__ import annotations

import argparse
import gzip
import html
import http.client
import json
import re
import ssl
import sys
import time
import urllib.parse
from datetime import datetime
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

CHECKS: list[str] = []


def check(condition: bool, what: str) -> None:
    if not condition:
        print(f"FAIL: {what}", file=sys.stderr)
        sys.exit(1)
    CHECKS.append(what)
    print(f"ok   {what}")


class Forms(HTMLParser):
    """Every form on a page: action, method and its inputs (hidden, radio, text, select options)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action") or "", "method": (a.get("method") or "get").lower(),
                               "inputs": [], "options": {}})
        elif not self.forms:
            return
        elif tag in ("input", "button"):
            self.forms[-1]["inputs"].append((a.get("name"), a.get("type", "text"), a.get("value") or ""))
        elif tag == "textarea":
            self.forms[-1]["inputs"].append((a.get("name"), "textarea", ""))
        elif tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select:
            self.forms[-1]["options"].setdefault(self._select, []).append(a.get("value") or "")

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None


def forms(body: str) -> list[dict]:
    parser = Forms()
    parser.feed(body)
    return parser.forms


class Browser:
    """One person's cookies against one base URL (no redirects followed: they are checked)."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")
        parts = urllib.parse.urlsplit(self.base)
        self.https, self.host, self.port = parts.scheme == "https", parts.hostname, parts.port
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, data: dict | list | None = None,
                headers: dict | None = None) -> tuple[int, dict, str]:
        conn = (http.client.HTTPSConnection(self.host, self.port, timeout=30, context=ssl._create_unverified_context())
                if self.https else http.client.HTTPConnection(self.host, self.port, timeout=30))
        head = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()), **(headers or {})}
        body = None
        if data is not None:
            body = urllib.parse.urlencode(data, doseq=True)
            head["Content-Type"] = "application/x-www-form-urlencoded"
            head["Referer"] = self.base + path  # Flask-WTF checks it over HTTPS
        conn.request(method, path, body=body, headers=head)
        response = conn.getresponse()
        raw = response.read()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key] = rest.split(";", 1)[0]
        headers_out = {k.lower(): v for k, v in response.getheaders()}
        if headers_out.get("content-encoding") == "gzip":
            raw = gzip.decompress(raw)
        conn.close()
        return response.status, headers_out, raw.decode("utf-8", "replace")

    def get(self, path: str, **kw):
        return self.request("GET", path, **kw)

    def csrf(self, path: str) -> str:
        status, _, body = self.get(path)
        match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', body)
        if not match:
            raise SystemExit(f"FAIL: no csrf_token on {path} ({status})")
        return match.group(1)

    def login(self, login_id: str, password: str) -> int:
        token = self.csrf("/auth/login")
        status, headers, _ = self.request("POST", "/auth/login",
                                          {"csrf_token": token, "login_id": login_id, "password": password})
        return status


def answer_a_question(trainee: Browser) -> None:
    _, _, body = trainee.get("/learn/modules")
    modules = list(dict.fromkeys(re.findall(r'href="/learn/modules/([a-z0-9-]+)"', body)))
    check(bool(modules), "trainee sees the modules (through nginx)")
    token = trainee.csrf(f"/learn/modules/{modules[0]}")
    status, headers, _ = trainee.request("POST", f"/learn/modules/{modules[0]}/start", {"csrf_token": token})
    check(status == 302 and "/learn/attempts/" in headers.get("location", ""), "a module starts")
    path = urllib.parse.urlsplit(headers["location"]).path
    for _ in range(40):  # pages in order: answer what comes before the first single-choice question
        status, _, body = trainee.get(path)
        if status != 200:
            check(False, f"page {path} opens ({status})")
        page_forms = forms(body)
        form = next((f for f in page_forms if f["action"].endswith("/answer")), None)
        if form is not None and any(name == "choice" for name, _, _ in form["inputs"]):
            data = filled(form)
            status, headers, _ = trainee.request("POST", html.unescape(form["action"]), data)
            check(status == 302 and "#feedback" in headers.get("location", ""),
                  "the trainee's answer is stored (302 to feedback)")
            _, _, page = trainee.get(urllib.parse.urlsplit(headers["location"]).path)
            check('id="feedback"' in page, "the feedback is shown")
            return
        if form is not None:
            trainee.request("POST", html.unescape(form["action"]), filled(form))
            page_forms = forms(trainee.get(path)[2])
        following = next((f for f in page_forms if f["action"].endswith("/next")), None)
        if following is None:
            check(False, f"page {path} leads on")
        status, headers, _ = trainee.request("POST", html.unescape(following["action"]), filled(following))
        path = urllib.parse.urlsplit(headers.get("location", "")).path
    check(False, "a single-choice question was found")


def filled(form: dict) -> dict:
    """A form's hidden fields, the first option of each radio group, a rank for each rank- field, text."""
    data: dict = {}
    ranks = 0
    for name, kind, value in form["inputs"]:
        if not name:
            continue
        if kind == "hidden":
            data[name] = value
        elif kind in ("radio", "checkbox"):
            data.setdefault(name, value)
        elif name.startswith("rank-"):
            ranks += 1
            data[name] = str(ranks)
        elif kind in ("text", "textarea"):
            data[name] = "スモークテストの回答"
    for name, options in form["options"].items():
        if name.startswith("rank-"):
            ranks += 1
            data[name] = str(ranks)
        else:
            data.setdefault(name, options[-1])
    return data


def live_question(a: str, b: str, fac_login: str, trainee_login: str, password: str) -> None:
    facilitator, participant = Browser(a), Browser(b)
    check(facilitator.login(fac_login, password) == 302, "facilitator signs in on instance A")
    check(participant.login(trainee_login, password) == 302, "participant signs in on instance B")
    _, _, body = facilitator.get("/facilitate/workshops/new")
    form = next(f for f in forms(body) if any(n == "modules" for n, _, _ in f["inputs"]) or "modules" in f["options"])
    token = next(v for n, _, v in form["inputs"] if n == "csrf_token")
    module = next((v for n, _, v in form["inputs"] if n == "modules"), None) or form["options"]["modules"][0]
    day = datetime.now(ZoneInfo("Asia/Tokyo")).date().isoformat()  # the real clock: a real server
    status, headers, _ = facilitator.request("POST", "/facilitate/workshops/new", {
        "csrf_token": token, "title": "スモークテスト", "day": day, "start": "00:00", "end": "23:59",
        "modules": [module], "participants": trainee_login})
    check(status == 302 and "/facilitate/workshops/" in headers.get("location", ""), "workshop created on A")
    wid = re.search(r"/workshops/(\d+)", headers["location"]).group(1)
    status, headers, _ = facilitator.request("POST", f"/facilitate/workshops/{wid}/live",
                                             {"csrf_token": token, "module_id": module})
    sid = re.search(r"/live/(\d+)", headers.get("location", "")).group(1)
    check(participant.get(f"/live/{sid}")[0] == 200, "participant on B joins the live session")
    version = json.loads(participant.get(f"/live/{sid}/state")[2])["version"]
    for page in range(0, 60):
        facilitator.request("POST", f"/facilitate/live/{sid}/action", {"csrf_token": token, "action": "goto", "page": page})
        facilitator.request("POST", f"/facilitate/live/{sid}/action", {"csrf_token": token, "action": "open"})
        state = json.loads(participant.get(f"/live/{sid}/state")[2])
        _, _, panel = participant.get(f"/live/{sid}/panel")
        form = next((f for f in forms(panel) if f["action"].endswith("/answer")), None)
        if form is None or not any(n == "choice" for n, _, _ in form["inputs"]):
            continue
        check(state["version"] > version, "B sees the state A changed (version moved on)")
        data = {n: v for n, kind, v in form["inputs"] if kind == "hidden" and n}
        data["choice"] = next(v for n, _, v in form["inputs"] if n == "choice")
        status, _, _ = participant.request("POST", f"/live/{sid}/answer", data)
        check(status == 200, "participant's live answer accepted on B")
        stats = json.loads(facilitator.get(f"/facilitate/live/{sid}/stats.json")[2])
        check(stats["answered"] == 1, "facilitator on A counts the answer given on B")
        return
    check(False, "a live single-choice question was found")


def shared_rate_limit(a: str, b: str) -> None:
    """/verify allows 60 a minute per address: counted together across both instances (Redis)."""
    clients = [Browser(a), Browser(b)]
    statuses = [clients[n % 2].get("/verify?code=SMOKE-0000")[0] for n in range(61)]
    check(all(s == 404 for s in statuses[:60]) and statuses[60] == 429,
          "rate limit shared by A and B: the 61st /verify within a minute is 429 (30 on A, 30 on B before it)")
    status, _, body = clients[1].get("/verify?code=SMOKE-0000")
    check(status == 429 and "操作が多すぎます" in body, "the 429 page is in Japanese")


def metrics(a: str, b: str) -> None:
    for name, base in (("A", a), ("B", b)):
        status, _, body = Browser(base).get("/metrics")
        check(status == 200 and "trainer_request_seconds_bucket" in body, f"instance {name} serves /metrics")
        answers = float(re.search(r"^trainer_answers_stored_total ([0-9.]+)$", body, re.M).group(1))
        check(answers >= 2, f"instance {name}: trainer_answers_stored_total counts the answers stored through both instances ({answers:g})")
        check("trainer_live_sessions_open" in body, f"instance {name}: live sessions gauge present")
    status, _, _ = Browser(a).get("/metrics", headers={"X-Forwarded-For": "203.0.113.7"})
    check(status == 403, "/metrics refuses an address outside TRAINER_METRICS_ALLOW")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True, help="nginx, e.g. https://127.0.0.1:18443")
    parser.add_argument("--a", required=True)
    parser.add_argument("--b", required=True)
    parser.add_argument("--facilitator", required=True)
    parser.add_argument("--trainee", required=True)
    parser.add_argument("--participant", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--logs", required=True, help="directory with instance-a.log and instance-b.log")
    args = parser.parse_args()
    started = time.monotonic()

    web = Browser(args.base)
    status, headers, body = web.get("/readyz")
    check(status == 200 and json.loads(body)["status"] == "ok", "/readyz through nginx")
    check(headers.get("strict-transport-security", "").startswith("max-age=31536000"), "HSTS from nginx")
    request_id = headers.get("x-request-id", "")
    check(bool(re.fullmatch(r"[0-9a-f]{32}", request_id)), "nginx's request id comes back in X-Request-ID")
    _, _, page = web.get("/")
    css = re.search(r'href="(/static/css/app\.css\?v=[0-9a-f]{12})"', page)
    check(css is not None, "pages link static files under a content hash")
    status, headers, _ = web.get(css.group(1), headers={"Accept-Encoding": "gzip"})
    check(status == 200 and "immutable" in headers.get("cache-control", "")
          and "max-age=31536000" in headers.get("cache-control", ""), "hashed static URL cached a year (nginx)")
    check(headers.get("content-encoding") == "gzip", "static CSS is gzipped")
    check("x-request-id" not in headers, "static files are served by nginx itself, not the app")
    status, headers, _ = web.get("/static/css/app.css")
    check("immutable" not in headers.get("cache-control", ""), "an unhashed static URL is revalidated")

    trainee = Browser(args.base)
    check(trainee.login(args.trainee, args.password) == 302, "trainee signs in through nginx")
    check(any(k.startswith("__Host-") for k in trainee.cookies), "the session cookie is __Host- (HTTPS)")
    answer_a_question(trainee)
    live_question(args.a, args.b, args.facilitator, args.participant, args.password)
    shared_rate_limit(args.a, args.b)
    metrics(args.a, args.b)
    logs = "".join(open(f"{args.logs}/instance-{n}.log", encoding="utf-8").read() for n in ("a", "b"))
    check(f'"request_id":"{request_id}"' in logs, "the request id of the nginx request is in an instance's JSON log")
    check(args.trainee not in logs and args.password not in logs, "the JSON logs hold no login ID or password")
    print(f"smoke: {len(CHECKS)} checks passed in {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    main()
