"""Walks every path of a deployed process through the API, as its users would.

For each process the explorer starts instances as a starter, then at every open user task
fills the task's form with valid data (generated from the form-js definition) and completes
it as the right user, choosing in turn each value of the fields the process branches on and,
where a timer is pending, letting it fire. Each path is replayed from a fresh start, so every
user task of the model is reached (the caller asserts that). ``on_task`` sees every open task
before it is completed: the cross-unit matrix runs its probes there.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable
from datetime import timedelta

from lxml import etree

from engine.bpmn.model import NS
from engine.clock import LOCAL_TZ, clock, utcnow
from engine.forms import lists as option_lists
from engine.scheduling.timers import fire_due

SEAL_PIN = "123456"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"
MAX_RUNS = 40  # fresh instances per process at the most


def ok(response, *codes):
    assert response.status_code in (codes or (200, 201)), (response.status_code, response.get_json())
    return response.get_json()


class Explorer:
    def __init__(self, world, engine_starts: dict[str, Callable] | None = None, home_units: dict[str, str] | None = None):
        self.world, self.api = world, world.api
        self.engine_starts = engine_starts or {}
        self.home_units = home_units or {}  # the unit a process's starter works in (hall-1 unless named)

    # ------------------------------------------------------------------ the model
    def definition(self, key: str) -> dict:
        return ok(self.api.get(f"/api/process-definitions/{key}", "admin"))["versions"][0]

    def branching_fields(self, key: str) -> set[str]:
        """Names the process's conditions read: the form fields worth trying every value of."""
        xml = self.api.get(f"/api/process-definitions/{key}/xml", "admin").get_data()
        root = etree.fromstring(xml)
        text = " ".join(el.text or "" for el in root.iter(f"{{{NS['bpmn']}}}conditionExpression"))
        # a branch may follow a decision's output: the decision's inputs are worth trying too
        for task in root.iter(f"{{{NS['bpmn']}}}businessRuleTask"):
            ref = task.get("{http://camunda.org/schema/1.0/bpmn}decisionRef")
            if ref:
                decision = ok(self.api.get(f"/api/decision-definitions/{ref}", "admin"))["versions"][0]
                text += " " + " ".join(i["expression"] for i in decision["inputs"])
        return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))

    def form(self, key: str | None, version: int | None = None) -> dict | None:
        if not key:
            return None
        query = f"?version={version}" if version else ""
        content = ok(self.api.get(f"/api/forms/{key}{query}", "admin"))["content"]
        return option_lists.resolve(content)  # a managed list's options, as the start page shows them

    # ------------------------------------------------------------------ data a user would enter
    def upload(self, user: str) -> str:
        r = self.api.client.post("/api/documents", headers=self.api.headers(user),
                                 data={"file": (__import__("io").BytesIO(PDF), "附件.pdf", "application/pdf")})
        return ok(r)["id"]

    def value(self, comp: dict, user: str, data: dict, choice: object = None):
        kind, rules = comp["type"], comp.get("validate") or {}
        if choice is not None:
            return choice
        options = [v["value"] for v in comp.get("values") or []]
        if comp.get("valuesKey"):
            options = [o["value"] for o in data.get(comp["valuesKey"]) or []]
        if kind in ("select", "radio"):
            return options[0] if options else None
        if kind in ("checklist", "taglist"):
            return options[:1] or ["标签"]
        if kind == "checkbox":
            return True
        if kind == "number":
            low = rules.get("min")
            return low if low is not None and low > 0 else (1 if rules.get("max") is None or rules["max"] >= 1 else 0)
        if kind == "datetime" and comp.get("key") == "ticket_time":  # the queue ticket: before the acceptance, same day
            return utcnow().astimezone(LOCAL_TZ).replace(tzinfo=None).isoformat(timespec="minutes")
        if kind == "datetime":
            later = bool((comp.get("properties") or {}).get("after"))  # a field that must come after another one
            day = (utcnow() + timedelta(days=401 if later else 400)).date().isoformat()
            return {"date": day, "time": "09:30", "datetime": f"{day}T09:30"}[comp.get("subtype", "date")]
        if kind == "filepicker":
            return [self.upload(user)]
        if (comp.get("properties") or {}).get("secret") == "true":
            return SEAL_PIN
        pattern = rules.get("pattern")
        if pattern:
            return _matching(pattern)
        text = "测试内容" * max(1, -(-int(rules.get("minLength") or 0) // 4))
        return text[: rules["maxLength"]] if rules.get("maxLength") else text

    def fill(self, components: list, user: str, data: dict, choices: dict) -> dict:
        out: dict = {}
        for comp in components or []:
            kind = comp.get("type")
            if kind == "group":
                sub = self.fill(comp.get("components"), user, data, choices)
                target = out
                for seg in (comp.get("path") or "").split(".") if comp.get("path") else []:
                    target = target.setdefault(seg, {})
                target.update(sub)
            elif kind == "dynamiclist":
                out[comp["path"]] = [self.fill(comp.get("components"), user, data, choices)]
            elif comp.get("key") and kind not in ("text", "html", "spacer", "separator", "image", "button", "expression"):
                value = self.value(comp, user, data, choices.get(comp["key"]))
                if value is not None:
                    out[comp["key"]] = value
        return out

    def variants(self, form: dict | None, branching: set[str]) -> list[dict]:
        """One choice of values per combination of the form's branching fields (at most 8)."""
        if not form:
            return [{}]
        fields = []
        for comp in _leaves(form.get("components")):
            if comp.get("key") not in branching:
                continue
            rules = comp.get("validate") or {}
            if comp.get("type") in ("select", "radio") and comp.get("values"):
                fields.append((comp["key"], [v["value"] for v in comp["values"]]))
            elif comp.get("type") == "number" and rules.get("min") is not None and rules.get("max") is not None \
                    and rules["max"] - rules["min"] <= 5:
                fields.append((comp["key"], list(range(int(rules["min"]), int(rules["max"]) + 1))))
        combos = list(itertools.product(*[values for _, values in fields]))[:8]
        return [dict(zip([k for k, _ in fields], combo, strict=True)) for combo in combos] or [{}]

    # ------------------------------------------------------------------ walking
    def start(self, key: str, definition: dict, choices: dict) -> str:
        if key in self.engine_starts:
            return self.engine_starts[key](self.world)
        role = next(r for r in definition["candidate_starter_groups"] if r != "admin")
        starter = self.world.member(role, self.home_units.get(key, "hall-1"))
        form = self.form(definition["start_form"])
        data = self.fill(form["components"], starter, {}, choices) if form else {}
        return ok(self.api.post(f"/api/process-definitions/{key}/instances", starter, json={"data": data}))["id"]

    def worker(self, task: dict) -> str:
        if task["assignee"]:
            return task["assignee"]
        return self.world.member(task["candidate_groups"][0], task["org_unit"])  # the role's user of the task's unit

    def explore(self, key: str, on_task: Callable[[dict, dict], None], wanted: set[str] = frozenset()) -> set[str]:
        """Every user task element reached (it stops once ``wanted`` are); ``on_task(task,
        instance)`` for the first open task of each element met."""
        definition = self.definition(key)
        branching = self.branching_fields(key)
        reached: set[str] = set()
        start_form = self.form(definition["start_form"]) if key not in self.engine_starts else None
        paths: list[tuple] = [(("start", tuple(sorted(v.items()))),) for v in self.variants(start_form, branching)]
        runs = 0
        while paths and runs < MAX_RUNS and not (wanted and wanted <= reached):
            path = paths.pop(0)
            runs += 1
            controlled, saved = clock.is_controlled, clock.now()
            known = len(reached)
            try:
                extensions = self._run(key, definition, branching, path, on_task, reached)
            finally:
                clock.set(saved) if controlled else clock.reset()
            # a loop (the same step with the same choice twice) adds nothing new: not extended
            longer = [path + (step,) for step in extensions if step not in path]
            if len(reached) > known:
                # a path that met a new step is followed first, towards what is still unmet: a model
                # with many choices early on (several yes/no fields, SLA timers) would otherwise use
                # up the runs on its first steps before the later ones are met
                paths[:0] = longer
            else:
                paths.extend(longer)
        return reached

    def work_external(self, iid: str) -> None:
        """The instance's external tasks (a system's work, e.g. recording a sealed approval) done by
        the integration service account, as its worker would."""
        while True:
            waiting = ok(self.api.get(f"/api/external-tasks?instance_id={iid}", "admin"))["items"]
            if not waiting:
                return
            topics = [{"name": t} for t in sorted({w["topic"] for w in waiting})]
            locked = ok(self.api.post("/api/external-tasks/fetch-and-lock", "integration",
                                      json={"worker_id": "explorer", "max_tasks": 100, "topics": topics}))["items"]
            mine = [t for t in locked if t["instance_id"] == iid]
            assert mine, f"external tasks of {iid} could not be fetched: {waiting}"
            for task in mine:
                ok(self.api.post(f"/api/external-tasks/{task['id']}/complete", "integration",
                                 json={"worker_id": "explorer", "variables": {}}))

    def _run(self, key, definition, branching, path, on_task, reached) -> list:
        """Replay ``path``; return the choices possible at its end (empty: the instance ended)."""
        iid = self.start(key, definition, dict(path[0][1]))
        for step in path[1:] + (None,):
            self.work_external(iid)
            inst = ok(self.api.get(f"/api/process-instances/{iid}", "admin"))
            if inst["status"] != "running":
                return []
            tasks = [ok(self.api.get(f"/api/tasks/{t['id']}", "admin")) for t in inst["open_tasks"]]
            for task in tasks:
                if task["element_id"] not in reached:
                    reached.add(task["element_id"])
                    on_task(task, inst)
            choices = [("task", t["element_id"], tuple(sorted(v.items()))) for t in tasks
                       for v in self.variants(t["form"], branching)]
            if inst["pending_timers"]:
                choices.append(("timer",))
            if step is None:
                return choices
            if step[0] == "timer":
                due = min(t["fire_at"] for t in inst["pending_timers"])
                from datetime import datetime

                clock.set(datetime.fromisoformat(due) + timedelta(seconds=1))
                fire_due(self.world.engine)
                continue
            _, element, chosen = step
            task = next(t for t in tasks if t["element_id"] == element)
            user = self.worker(task)
            data = self.fill(task["form"]["components"], user, task["data"], dict(chosen)) if task["form"] else {}
            ok(self.api.post(f"/api/tasks/{task['id']}/complete", user, json={"data": data}))
        return []


@functools.cache
def _matching(pattern: str) -> str:
    """The simplest printable ASCII text matching ``pattern`` (as the server's RE2 reads it)."""
    from hypothesis import find
    from hypothesis import strategies as st

    ascii_text = st.characters(min_codepoint=32, max_codepoint=126)
    return find(st.from_regex(pattern, fullmatch=True, alphabet=ascii_text), lambda s: True)


def _leaves(components):
    for comp in components or []:
        if comp.get("components"):
            yield from _leaves(comp["components"])
        else:
            yield comp
