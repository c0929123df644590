"""Load test: simulated users working the four business processes over the REST API.

Each simulated user is a thread with its own account (created with the admin API) and a
role: counter staff and customer managers in both halls, enforcement officers, service
center heads (with their own electronic seal), information clerks, duty and hall managers.
A user signs in once (``POST /api/auth/token``) and then, after a think time, works one
task from their tasklist (open the task, claim it, fill in the form, complete it), or, if
there is nothing to do, sometimes starts a new case:

- supply approval (officer: upload the approval form, start; head: review, then seal with
  the PIN; clerk: maintain the record; officer: supply, or revise / withdraw a rejection);
- complaint handling (counter staff: standard or technical complaint, customer managers:
  written ones; the first-contact person resolves a standard complaint, the duty manager a
  technical or written one, or one the counter left until its SLA escalated it);
- group agreement (customer manager: upload the ID copy, start, accept it (documents
  complete, ID copy checked; now and then incomplete: back to the customer, then supplemented
  and accepted again, or withdrawn), sign with an upload; hall manager: approve or reject;
  clerk: archive, mark void; some agreements expire within 30 days, so their BPMN reminder
  timer fires at once);
- one counter (counter staff: start and handle; abnormal cases go to the duty manager,
  technical ones become a complaint).

A small share of counter cases is left alone on purpose (``--abandon``), so that SLA timers
warn, breach and escalate to the duty manager during the run.

Conflicts are expected: two users of one role may reach for the same task; the loser gets
409 and takes another task. They are counted apart, never as errors. Errors are 5xx
responses, connection failures and any other unexpected status.

Every acknowledged start and completion goes to ``--ack FILE`` (JSON lines) for
``bpm check --ack FILE``; a write whose outcome the client cannot know (no response, or a
5xx) is logged as ``lost``.

    python bench/harness/load_test.py --base-url http://127.0.0.1:8000 --users 64 --duration 600 --ack ack.jsonl

``--prepare`` (default) creates the load users with the admin API (``admin`` / ``demo`` of
``bpm init --demo``) and issues a seal (PIN ``--seal-pin``) to every load head through the
engine, so run it with the server's ``BPM_DATABASE_URL`` and ``BPM_VAR_DIR``.
Prints JSON: throughput, p50/p95/p99 per endpoint, task completion latency, errors.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import threading
import time
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import requests


def _beijing_now() -> str:
    """A form date-time (no offset) in the halls' time: the engine refuses answers before the registration."""
    return datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%dT%H:%M")


ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "load-test-pw-1"

# share of the users per role (largest remainder), and the halls they work in
ROLE_SHARES = {
    "counter_staff": 0.30, "customer_manager": 0.15, "enforcement_officer": 0.15, "duty_manager": 0.12,
    "hall_manager": 0.09, "info_clerk": 0.10, "service_center_head": 0.09,
}
HALLS = ("hall-1", "hall-2")
# the user tasks each role works (see processes/*.bpmn)
ELEMENTS = {
    "counter_staff": {"resolve_counter", "handle", "close"},
    "customer_manager": {"close", "accept", "supplement", "rework", "sign", "active", "expiry"},
    "enforcement_officer": {"revise", "supply"},
    "service_center_head": {"review", "seal"},
    "info_clerk": {"maintain", "archive", "mark_void"},
    "duty_manager": {"resolve_technical", "answer_written", "on_the_spot", "resolve_counter", "handle"},
    "hall_manager": {"approve", "resolve_technical"},
}
FIRST_CONTACT = {"resolve_counter", "handle"}  # counter staff work only the cases they registered
STARTS = {"counter_staff", "customer_manager", "enforcement_officer"}
LINES = [{"brand": "huanghelou", "specification": "硬1916", "quantity": 5},
         {"brand": "zhonghua", "specification": "软", "quantity": 2}]


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered) + 0.5)) - 1))], 1)


def plan_users(n: int, prefix: str) -> list[tuple[str, str, str]]:
    """``n`` (username, role, hall): roles by ROLE_SHARES (largest remainder), halls alternating."""
    raw = {role: share * n for role, share in ROLE_SHARES.items()}
    counts = {role: int(v) for role, v in raw.items()}
    for role in sorted(raw, key=lambda r: raw[r] - counts[r], reverse=True)[: n - sum(counts.values())]:
        counts[role] += 1
    users = []
    for role, count in counts.items():
        for i in range(count):
            users.append((f"{prefix}-{role.replace('_', '-')}-{i + 1}", role, HALLS[i % len(HALLS)]))
    return users


# --------------------------------------------------------------------------- recording


class Recorder:
    """Latencies per endpoint, outcomes, and the acknowledgement log; thread-safe."""

    def __init__(self, ack_path: Path | None) -> None:
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.outcomes: dict[str, Counter] = defaultdict(Counter)
        self.statuses: Counter = Counter()
        self.error_samples: list[dict] = []
        self.completion_by_element: dict[str, list[float]] = defaultdict(list)
        self.business: Counter = Counter()
        self.errors_by_second: Counter = Counter()  # epoch second -> errors (to attribute them to injected faults)
        self.ack = ack_path.open("w", encoding="utf-8") if ack_path else None
        self.ack_log({"op": "begin", "at": datetime.now(UTC).isoformat()})

    def request(self, endpoint: str, ms: float, status: int | None, outcome: str, detail: str | None = None) -> None:
        with self.lock:
            self.latency[endpoint].append(ms)
            self.outcomes[endpoint][outcome] += 1
            self.statuses[status or "no_response"] += 1
            if outcome == "error":
                self.errors_by_second[int(time.time())] += 1
            if outcome == "error" and len(self.error_samples) < 25:
                self.error_samples.append({"endpoint": endpoint, "status": status, "detail": (detail or "")[:300],
                                           "at": datetime.now(UTC).isoformat()})

    def ack_log(self, record: dict) -> None:
        if self.ack is None:
            return
        line = json.dumps(record, ensure_ascii=False)
        with self.lock:
            self.ack.write(line + "\n")
            self.ack.flush()

    def close(self) -> None:
        if self.ack is not None:
            self.ack.close()


# --------------------------------------------------------------------------- one simulated user


class User(threading.Thread):
    def __init__(self, opts, username: str, role: str, hall: str, seed: int, rec: Recorder, stop: threading.Event,
                 start_delay: float) -> None:
        super().__init__(name=username, daemon=True)
        self.o, self.username, self.role, self.hall = opts, username, role, hall
        self.rng = random.Random(seed)
        self.rec, self.stop = rec, stop
        self.start_delay = start_delay
        self.http = requests.Session()
        self.token = None
        self.started: set[str] = set()  # cases this user registered (first contact)
        self.abandoned: set[str] = set()
        self.iteration = 0
        self.check_mine = True

    # ------------------------------------------------------------------ HTTP

    def call(self, method: str, endpoint: str, path: str, ok=(200,), conflict=(409,), **kw):
        """One request; returns ``(outcome, response)``, outcome ok | conflict | error | lost.

        ``lost``: no response, or a 5xx: the client cannot know whether a write committed.
        """
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        t0 = time.perf_counter()
        try:
            r = self.http.request(method, self.o.base_url + path, headers=headers, timeout=(5, 60), **kw)
        except requests.RequestException as exc:
            self.rec.request(endpoint, (time.perf_counter() - t0) * 1000, None, "error", f"{type(exc).__name__}: {exc}")
            return "lost", None
        ms = (time.perf_counter() - t0) * 1000
        if r.status_code in ok:
            outcome = "ok"
        elif r.status_code in conflict:
            outcome = "conflict"
        else:
            outcome = "error"
        self.rec.request(endpoint, ms, r.status_code, outcome, None if outcome != "error" else r.text)
        if outcome == "error" and r.status_code >= 500:
            return "lost", r
        return outcome, r

    def think(self, low: float | None = None, high: float | None = None) -> None:
        self.stop.wait(self.rng.uniform(self.o.think_min if low is None else low, self.o.think_max if high is None else high))

    def login(self) -> bool:
        while not self.stop.is_set():
            outcome, r = self.call("POST", "POST /api/auth/token", "/api/auth/token",
                                   json={"username": self.username, "password": self.o.password})
            if outcome == "ok":
                self.token = r.json()["token"]
                return True
            self.stop.wait(2)
        return False

    def upload(self, name: str) -> str | None:
        size = max(1, self.o.upload_kb) * 1024
        body = b"%PDF-1.4\n%" + self.rng.randbytes(size).hex().encode()[:size] + b"\n%%EOF\n"
        outcome, r = self.call("POST", "POST /api/documents", "/api/documents", ok=(201,),
                               files={"file": (name, body, "application/pdf")})
        return r.json()["id"] if outcome == "ok" else None

    # ------------------------------------------------------------------ the loop

    def run(self) -> None:
        if self.stop.wait(self.start_delay) or not self.login():
            return
        while not self.stop.is_set():
            self.think()
            if self.stop.is_set():
                break
            self.iteration += 1
            try:
                if not self.work_one() and self.role in STARTS and self.rng.random() < self.o.start_share:
                    self.start_one()
            except Exception as exc:  # noqa: BLE001 - a bug in this client must show, not kill the thread
                self.rec.request("client", 0.0, None, "error", f"client error: {type(exc).__name__}: {exc}")

    def wants(self, task: dict) -> bool:
        element = task["element_id"]
        if element not in ELEMENTS[self.role]:
            return False
        if self.role == "counter_staff" and element in FIRST_CONTACT:
            return task["instance_id"] in self.started and task["instance_id"] not in self.abandoned
        if element == "active":  # half of the active agreements are voided during the run
            return int(hashlib.sha256(task["instance_id"].encode()).hexdigest(), 16) % 2 == 0
        return True

    def work_one(self) -> bool:
        """Work one task: my claimed ones first (a lost response may have left one), else a candidate."""
        if self.check_mine or self.iteration % 5 == 0:
            outcome, r = self.call("GET", "GET /api/tasks?scope=mine", "/api/tasks?scope=mine&per_page=20")
            self.check_mine = False
            if outcome == "ok":
                mine = [t for t in r.json()["items"] if t["status"] == "open" and t["element_id"] in ELEMENTS[self.role]]
                if mine:
                    self.do(mine[0], claimed=True)
                    return True
        outcome, r = self.call("GET", "GET /api/tasks?scope=candidate", "/api/tasks?scope=candidate&per_page=50")
        if outcome != "ok":
            return False
        eligible = [t for t in r.json()["items"] if self.wants(t)]
        self.rng.shuffle(eligible)
        for task in eligible[:3]:
            if self.do(task) != "conflict":
                return True
        return False

    def do(self, task: dict, claimed: bool = False) -> str:
        tid = task["id"]
        outcome, r = self.call("GET", "GET /api/tasks/{id}", f"/api/tasks/{tid}")
        if outcome != "ok":
            return outcome
        detail = r.json()
        if detail["status"] != "open":
            return "conflict"
        if not claimed:
            outcome, r = self.call("POST", "POST /api/tasks/{id}/claim", f"/api/tasks/{tid}/claim")
            if outcome != "ok":
                self.check_mine = outcome == "lost"
                return outcome
        self.think(self.o.form_min, self.o.form_max)  # filling in the form
        data = self.form_data(detail)
        if data is None:  # an upload failed: the task stays claimed, taken up again later
            self.check_mine = True
            return "error"
        endpoint = "POST /api/tasks/{id}/complete"
        t0 = time.perf_counter()
        outcome, r = self.call("POST", endpoint, f"/api/tasks/{tid}/complete", json={"data": data})
        ms = (time.perf_counter() - t0) * 1000
        if outcome == "ok":
            with self.rec.lock:
                self.rec.completion_by_element[detail["element_id"]].append(ms)
                self.rec.business[f"completed {detail['process_key']}.{detail['element_id']}"] += 1
            self.rec.ack_log({"op": "complete", "task_id": tid, "instance_id": detail["instance_id"],
                              "element": detail["element_id"], "user": self.username})
            if self.rng.random() < 0.3:  # look at the case afterwards
                self.call("GET", "GET /api/process-instances/{id}", f"/api/process-instances/{detail['instance_id']}")
        elif outcome == "lost":
            self.rec.ack_log({"op": "lost", "what": "complete", "task_id": tid, "user": self.username,
                              "status": r.status_code if r is not None else None})
            self.check_mine = True
        return outcome

    # ------------------------------------------------------------------ starting cases

    def start_one(self) -> None:
        rng, today = self.rng, date.today()
        if self.role == "enforcement_officer":
            doc = self.upload("供货审批表.pdf")
            if doc is None:
                return
            key, data = "supply_approval", {"licence_no": f"4201{rng.randrange(10**8):08d}", "retailer_name": "城关便民烟酒店",
                                            "lines": LINES, "reason": "春节前备货", "attachments": [doc]}
        elif self.role == "customer_manager" and rng.random() < 0.7:
            doc = self.upload("营业执照及经办人身份证.pdf")
            if doc is None:
                return
            if rng.random() < 0.3:  # expires within 30 days: the reminder timer is already due
                start, end = today - timedelta(days=300), today + timedelta(days=rng.randint(1, 25))
            else:
                start, end = today, today + timedelta(days=rng.randint(200, 400))
            key, data = "group_agreement", {"group_name": "城关第一中学", "agreement_no": f"JT-{rng.randrange(10**8):08d}",
                                            "tariff_plan": "集团V网 58元套餐", "term_start": start.isoformat(),
                                            "term_end": end.isoformat(), "customer_id_copy": [doc]}
        elif self.role == "customer_manager":
            key, data = "complaint_handling", self.complaint("written")
        elif rng.random() < 0.6:
            key, data = "one_counter", self.counter_business()
        else:
            key, data = "complaint_handling", self.complaint("standard" if rng.random() < 0.75 else "technical")
            if data is None:
                return
        body = {"data": data, "business_key": f"LT-{rng.randrange(16**10):010x}"}
        outcome, r = self.call("POST", "POST /api/process-definitions/{key}/instances",
                               f"/api/process-definitions/{key}/instances", ok=(201,), json=body)
        if outcome == "ok":
            iid = r.json()["id"]
            self.started.add(iid)
            with self.rec.lock:
                self.rec.business[f"started {key}"] += 1
            self.rec.ack_log({"op": "start", "instance_id": iid, "process": key, "user": self.username})
            if key == "group_agreement":
                self.check_mine = True  # the acceptance is the customer manager's own next step (3 minutes)
            if key in ("one_counter", "complaint_handling") and self.role == "counter_staff" and rng.random() < self.o.abandon:
                self.abandoned.add(iid)  # left alone: its SLA warns, breaches and escalates to the duty manager
        elif outcome == "lost":
            self.rec.ack_log({"op": "lost", "what": "start", "process": key, "user": self.username,
                              "status": r.status_code if r is not None else None})

    def complaint(self, category: str) -> dict | None:
        data = {"category": category, "complaint_type": "billing_support", "customer_name": "张三", "contact_phone": f"138{self.rng.randrange(10**8):08d}",
                "description": "上月话费账单有一笔不明扣费"}
        if self.rng.random() < 0.3:
            doc = self.upload("账单截图.pdf")
            if doc is None:
                return None
            data["attachments"] = [doc]
        return data

    def counter_business(self) -> dict:
        category = self.rng.choice(["payment", "payment", "unlock", "sim_replacement", "business_change", "transfer_ownership"])
        data = {"category": category, "customer_phone": f"139{self.rng.randrange(10**8):08d}", "description": "客户办理业务"}
        data.update({"payment": {"amount": self.rng.choice([30, 50, 100])},
                     "sim_replacement": {"id_number": "42010119900101123X"},
                     "transfer_ownership": {"id_number": "42010119900101123X", "new_owner_name": "李四",
                                            "new_owner_id": "420101199202022345"}}.get(category, {}))
        return data

    # ------------------------------------------------------------------ task forms

    def form_data(self, task: dict) -> dict | None:
        element, rng, today = task["element_id"], self.rng, date.today()
        case = task.get("data") or {}
        if element == "review":
            return ({"decision": "approve", "review_comment": "同意供货"} if rng.random() < 0.85
                    else {"decision": "reject", "reject_reason": "数量超出月度限量"})
        if element == "seal":
            return {"seal_confirm": True, "seal_pin": self.o.seal_pin}
        if element == "maintain":
            return {"system_ref": f"JYXT-{rng.randrange(10**8):08d}"}
        if element == "supply":
            lines = case.get("lines") or LINES
            return {"supply_date": today.isoformat(),
                    "delivered": [{"brand": x["brand"], "specification": x["specification"], "delivered_qty": x["quantity"]}
                                  for x in lines]}
        if element == "revise":
            if rng.random() < 0.3:
                return {"revise_action": "withdraw"}
            doc = self.upload("供货审批表-修订.pdf")
            if doc is None:
                return None
            return {"revise_action": "resubmit", "lines": [{"brand": "huanghelou", "specification": "硬1916", "quantity": 3}],
                    "reason": "按限量调整", "attachments": [doc], "revise_note": "数量已下调"}
        if element == "resolve_counter":
            return {"counter_action": "已当场更正并退费"}
        if element == "resolve_technical":
            return {"tech_cause": "billing_error", "tech_action": "小区计费参数已修正，差额退回"}
        if element == "answer_written":
            return {"written_reply": "经核查，该业务已于次日办结。"}
        if element == "close":
            return {"resolution": "已向客户说明并解决", "answered_at": _beijing_now(),
                    "satisfaction": rng.choice(["satisfied"] * 4 + ["neutral", "dissatisfied"])}
        if element == "accept":
            if rng.random() < 0.9:
                return {"documents_complete": "yes", "id_copy_checked": "yes"}
            return {"documents_complete": "no", "id_copy_checked": "yes", "accept_note": "缺集团客户介绍信"}
        if element == "supplement":
            if rng.random() < 0.2:
                return {"supplement_action": "withdraw", "supplement_note": "客户放弃办理"}
            return {"supplement_action": "resubmit", "supplement_note": "客户已补齐资料"}
        if element == "approve":
            return ({"approval": "approve"} if rng.random() < 0.85
                    else {"approval": "reject", "approval_reason": "资费低于集团底线"})
        if element == "rework":
            if rng.random() < 0.3:
                return {"rework_action": "abandon", "rework_note": "客户放弃"}
            return {"rework_action": "resubmit", "tariff_plan": "集团V网 88元套餐", "term_start": today.isoformat(),
                    "term_end": (today + timedelta(days=365)).isoformat(), "rework_note": "已按底线调整"}
        if element == "sign":
            doc = self.upload("协议签署件.pdf")
            return None if doc is None else {"signed_scan": [doc], "signed_at": today.isoformat()}
        if element == "archive":
            return {"archive_no": f"DA-{rng.randrange(10**8):08d}"}
        if element == "active":
            return {"active_action": "void", "void_reason": "集团客户撤销合作"}
        if element == "mark_void":
            return {"void_confirmed": True, "void_date": today.isoformat()}
        if element == "expiry":
            if rng.random() < 0.5:
                return {"expiry_action": "terminate", "expiry_note": "客户不再续约"}
            return {"expiry_action": "renew", "term_start": today.isoformat(),
                    "term_end": (today + timedelta(days=365)).isoformat()}
        if element == "handle":
            if self.role == "duty_manager":
                return {"outcome": "cleared", "handle_note": "值班经理接手办结"}
            roll = rng.random()
            if roll < 0.8:
                return {"outcome": "cleared", "handle_note": "已办结"}
            if roll < 0.95:
                return {"outcome": "abnormal", "issue_detail": "证件信息与登记不符"}
            return {"outcome": "technical", "issue_detail": "疑似小区计费错误", "customer_name": "王五",
                    "complaint_type": "billing_support"}
        if element == "on_the_spot":
            return {"spot_action": "核实证件后现场处理", "replied_at": _beijing_now()}
        raise ValueError(f"no form data for {element}")


# --------------------------------------------------------------------------- setup


def prepare(opts, users: list[tuple[str, str, str]]) -> dict:
    """Create the load users (admin API) and issue a seal to every load head (engine)."""
    r = requests.post(opts.base_url + "/api/auth/token", json={"username": opts.admin_user, "password": opts.admin_password},
                      timeout=30)
    r.raise_for_status()
    headers = {"Authorization": f"Bearer {r.json()['token']}"}
    created = 0
    for username, role, hall in users:
        r = requests.post(opts.base_url + "/api/users", headers=headers, timeout=30,
                          json={"username": username, "password": opts.password, "roles": [role], "org_unit": hall,
                                "display_name": f"压测 {role} {hall}"})
        if r.status_code == 201:
            created += 1
        elif r.status_code != 409:
            raise SystemExit(f"could not create {username}: {r.status_code} {r.text[:300]}")
    seals = []
    heads = {u for u, role, _ in users if role == "service_center_head"}
    if heads and opts.seal_setup:
        sys.path.insert(0, str(ROOT))
        from engine.app import BpmEngine
        from engine.seals.admin import init_seals

        engine = BpmEngine()
        try:
            seals = [line for line in init_seals(engine, lambda name: opts.seal_pin if name in heads else None)
                     if "issued seal" in line]
        finally:
            engine.close()
    return {"users_created": created, "users": len(users), "seals_issued": len(seals)}


# --------------------------------------------------------------------------- report


def report(opts, rec: Recorder, elapsed: float, setup: dict) -> dict:
    endpoints = {}
    total = 0
    for name in sorted(rec.latency):
        values, outcomes = rec.latency[name], rec.outcomes[name]
        total += len(values)
        endpoints[name] = {"count": len(values), "per_s": round(len(values) / elapsed, 2),
                           "p50_ms": percentile(values, 0.50), "p95_ms": percentile(values, 0.95),
                           "p99_ms": percentile(values, 0.99), "max_ms": round(max(values), 1),
                           "errors": outcomes["error"], "conflicts": outcomes["conflict"]}
    completions = [v for vs in rec.completion_by_element.values() for v in vs]
    by_element = {el: {"count": len(vs), "p50_ms": percentile(vs, 0.5), "p95_ms": percentile(vs, 0.95),
                       "p99_ms": percentile(vs, 0.99)} for el, vs in sorted(rec.completion_by_element.items())}
    errors = sum(o["error"] for o in rec.outcomes.values())
    conflicts = sum(o["conflict"] for o in rec.outcomes.values())
    statuses = {str(k): v for k, v in sorted(rec.statuses.items(), key=lambda kv: str(kv[0]))}
    started = sum(v for k, v in rec.business.items() if k.startswith("started"))
    completed = sum(v for k, v in rec.business.items() if k.startswith("completed"))
    p95 = percentile(completions, 0.95)
    return {
        "config": {"base_url": opts.base_url, "users": opts.users, "duration_s": opts.duration, "seed": opts.seed,
                   "think_s": [opts.think_min, opts.think_max], "form_s": [opts.form_min, opts.form_max],
                   "upload_kb": opts.upload_kb, "abandon": opts.abandon, "start_share": opts.start_share},
        "setup": setup,
        "elapsed_s": round(elapsed, 1),
        "requests": total,
        "throughput_rps": round(total / elapsed, 2),
        "instances_started": started,
        "tasks_completed": completed,
        "completions_per_s": round(completed / elapsed, 2),
        "business": dict(sorted(rec.business.items())),
        "task_completion": {"count": len(completions), "p50_ms": percentile(completions, 0.5), "p95_ms": p95,
                            "p99_ms": percentile(completions, 0.99), "by_element": by_element},
        "endpoints": endpoints,
        "errors": errors,
        "conflicts": conflicts,
        "statuses": statuses,
        "error_samples": rec.error_samples,
        "errors_by_second": {str(k): v for k, v in sorted(rec.errors_by_second.items())},
        "goals": {"zero_errors": errors == 0, "task_completion_p95_under_100ms": p95 is not None and p95 < 100},
    }


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base-url", default=os.environ.get("BPM_BASE_URL", "http://127.0.0.1:8000"))
    p.add_argument("--users", type=int, default=64)
    p.add_argument("--duration", type=float, default=600, help="seconds")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--think-min", type=float, default=1.0)
    p.add_argument("--think-max", type=float, default=5.0)
    p.add_argument("--form-min", type=float, default=0.5, help="seconds spent filling in a form (min)")
    p.add_argument("--form-max", type=float, default=2.0)
    p.add_argument("--upload-kb", type=int, default=64)
    p.add_argument("--abandon", type=float, default=0.05, help="share of counter cases left for the SLA to escalate")
    p.add_argument("--start-share", type=float, default=0.35, help="chance an idle starter opens a new case")
    p.add_argument("--ack", type=Path, default=None, help="acknowledgement log (JSON lines) for `bpm check --ack`")
    p.add_argument("--prefix", default="load", help="username prefix of the load users")
    p.add_argument("--password", default=PASSWORD)
    p.add_argument("--prepare", dest="prepare", action="store_true", default=True)
    p.add_argument("--no-prepare", dest="prepare", action="store_false")
    p.add_argument("--no-seal-setup", dest="seal_setup", action="store_false", default=True)
    p.add_argument("--seal-pin", default="123456")
    p.add_argument("--admin-user", default="admin")
    p.add_argument("--admin-password", default="demo")
    p.add_argument("--ramp-up", type=float, default=None, help="seconds over which users sign in [default: min(30, duration/10)]")
    p.add_argument("--out", type=Path, default=None, help="also write the JSON report here")
    return p.parse_args(argv)


def run(opts, stop: threading.Event | None = None) -> dict:
    users = plan_users(opts.users, opts.prefix)
    setup = prepare(opts, users) if opts.prepare else {}
    rec = Recorder(opts.ack)
    stop = stop or threading.Event()
    ramp = min(30.0, opts.duration / 10) if opts.ramp_up is None else opts.ramp_up
    rng = random.Random(opts.seed)
    threads = [User(opts, name, role, hall, rng.randrange(2**32), rec, stop, ramp * i / max(1, len(users)))
               for i, (name, role, hall) in enumerate(users)]
    t0 = time.monotonic()
    cpu0 = time.process_time()
    for t in threads:
        t.start()
    stop.wait(opts.duration)
    stop.set()
    for t in threads:
        t.join(70)
    elapsed = time.monotonic() - t0
    client_cpu = time.process_time() - cpu0
    rec.close()
    result = report(opts, rec, elapsed, setup)
    # the simulated users' own CPU (this process) as a share of all cores: what the client took
    # from the server on a machine they share
    result["client_cpu_share"] = round(client_cpu / (elapsed * (os.cpu_count() or 1)), 3)
    return result


def main(argv=None) -> None:
    opts = parse_args(argv)
    result = run(opts)
    text = json.dumps(result, ensure_ascii=False, indent=2)
    if opts.out:
        opts.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
