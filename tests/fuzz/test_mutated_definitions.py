"""Mutated BPMN and form files through the deploy API: valid, or a clean 4xx -- never a 5xx.

Every real file in processes/*.bpmn and forms/*.form is mutated many times with a seeded
generator (reproducible; ``BPM_FUZZ_EXAMPLES`` raises the count, ``BPM_FUZZ_SEED`` changes
the seed): truncation, deleted/duplicated/renamed elements and attributes, broken
references (sequence-flow targets, form keys, candidate groups), DTDs and entities
(billion laughs, external files), random bytes, non-UTF-8 text, huge attributes, deep
nesting, and script/condition/timer payloads such as ``__import__('os').system(...)``.

Each mutant is POSTed (BPMN as ``application/xml`` to ``/api/process-definitions``, forms
as JSON to ``/api/forms``). The answer must be 200/201 (the mutant is still valid) or a
4xx with the JSON error body; a 422 for BPMN lists ``{element_id, message}`` errors and,
for a broken reference, names the element. A refused deploy leaves the definition and
form lists exactly as they were (nothing half-deployed), and no payload ever runs.

Both databases: column sizes and what a JSON/text column can hold differ between them.
"""

from __future__ import annotations

import copy
import json
import random
from collections import Counter
from pathlib import Path

import pytest
from lxml import etree

from tests.conftest import ROOT
from tests.fuzz.conftest import examples, seed
from tests.support.business import deploy, form_ids, process_keys

pytestmark = pytest.mark.fuzz

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
BPMN_MUTANTS = 160  # per database; ~20 per process file
FORM_MUTANTS = 160
MARKER = Path("/tmp/bpm-fuzz-payload-ran")  # a payload that runs would create it
PAYLOADS = [
    f"__import__('os').system('touch {MARKER}')",
    f"open('{MARKER}', 'w').write('x')",
    "().__class__.__base__.__subclasses__()",
    "[c for c in ().__class__.__mro__[1].__subclasses__() if c.__name__ == 'Popen'][0](['id'])",
    "exec('import os')",
    "(lambda: 1).__globals__",
]
# Syntactically harmless, so they may deploy; their evaluation is bounded at run time
# (the sandbox refuses huge powers and strings: an incident, not a hung worker).
BOUNDED = ["9 ** 9 ** 9", "'a' * 10 ** 10"]
# Timer values: unquoted, unparsable, beyond year 9999, zero cycles, read from data.
TIMER_JUNK = ['"P999999999D"', '"PT99999999999999H"', 'P1D', '"P"', '"99999-01-01"', '"9999-12-31T23:59:59Z"',
              '"R/PT0S"', '"R-1/P1D"', '"R/9999-12-31T00:00:00Z/P1D"', '""', "", "reminder_at", "now() + 1",
              "'P' + '1D'", "1 / 0", "__import__('os')", '"2026-02-30"', "None", "[]", '"P1D" * 10 ** 6']
# camunda:property names the engine reads (SLA, schedules, linked starts, seals ...) and bad values.
PROPERTY_NAMES = ["sla.amount", "sla.kind", "sla.warn", "sla.escalate", "schedule.cycle", "startProcess",
                  "startData.x", "candidateScope", "seal", "record", "score_review"]
PROPERTY_JUNK = ["", " ", "x", "-1", "0", "1e309", "nan", "inf", "P", "PT", "P0D", "-P1D", "P99999999999D",
                 "PT999999999999H", "R/", "R-1/2026-01-01T00:00:00Z/P1M", "R/9999-99-99T00:00:00/P1M", "R0/2026-01-01/P1D",
                 "R/2026-01-01T00:00:00Z/PT0S", "R/2026-01-01T00:00:00Z/PT1S", "0.8;0.9", "1.0:", ":duty_manager",
                 "abc:def", "1.0:nobody", "-1:admin", "1e999:admin", "10**10", "../../x", "no_such_process",
                 "complaint_handling", "supply_approval", "one_counter", "all", "starter_unit", "中文", "x" * 5000,
                 "__import__('os').system('id')"]


# --------------------------------------------------------------------------- state of the catalogue


def catalogue(api) -> tuple[dict, dict]:
    defs = api.get("/api/process-definitions", "auditor").get_json()["items"]
    forms = api.get("/api/forms", "auditor").get_json()["items"]
    return ({d["key"]: (d["version"], d["sha256"]) for d in defs}, {f["id"]: (f["version"], f["sha256"]) for f in forms})


def assert_clean_4xx(r, mutation: str):
    assert r.status_code < 500, (mutation, r.status_code, r.get_data(as_text=True)[:800])
    assert 400 <= r.status_code < 500, (mutation, r.status_code)
    body = r.get_json(silent=True)
    assert isinstance(body, dict) and isinstance(body.get("error"), str) and isinstance(body.get("message"), str), (
        mutation, r.status_code, r.get_data(as_text=True)[:300])
    return body


# --------------------------------------------------------------------------- BPMN mutations


def _elements(root):
    return [el for el in root.iter() if isinstance(el.tag, str) and el is not root]


def _with_tree(xml: bytes, change):
    root = etree.fromstring(xml)
    named = change(root)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8"), named


def bpmn_mutations(rng: random.Random, xml: bytes):
    """Yield ``(name, mutant bytes, element id an error must name or None)``."""
    text = xml.decode("utf-8")
    detail = [""]  # what the last payload mutation injected, for the failure message

    def pick(root, tag=None, attr=None):
        els = [e for e in _elements(root) if (tag is None or etree.QName(e).localname == tag)
               and (attr is None or e.get(attr) is not None)]
        return rng.choice(els) if els else None

    def delete_element(root):
        el = pick(root)
        el.getparent().remove(el)

    def duplicate_element(root):
        el = pick(root)
        el.addnext(copy.deepcopy(el))

    def rename_element(root):
        el = pick(root)
        local = rng.choice(["serviceTask", "task", "bogus", "sendTask", "userTask", "complexGateway", "definitions",
                            "process"])
        el.tag = f"{{{rng.choice([BPMN, CAMUNDA, 'urn:x'])}}}{local}"

    def delete_attribute(root):
        el = pick(root)
        if el.attrib:
            del el.attrib[rng.choice(list(el.attrib))]

    def rename_attribute(root):
        el = pick(root)
        if el.attrib:
            name = rng.choice(list(el.attrib))
            value = el.attrib.pop(name)
            el.set(rng.choice(["idd", "name2", f"{{{CAMUNDA}}}formKeyy", "targetRef", "sourceRef"]), value)

    def huge_attribute(root):
        el = pick(root)
        el.set(rng.choice(["name", "id", f"{{{CAMUNDA}}}formKey", f"{{{CAMUNDA}}}candidateGroups"]),
               rng.choice(["名", "x", "a,"]) * rng.choice([300, 5000, 200_000]))

    def break_flow(root):
        flow = pick(root, "sequenceFlow")
        flow.set(rng.choice(["sourceRef", "targetRef"]), rng.choice(["nowhere", "", "x" * 200]))
        return flow.get("id")

    def break_form_key(root):
        el = pick(root, attr=f"{{{CAMUNDA}}}formKey")
        if el is None:
            return None
        el.set(f"{{{CAMUNDA}}}formKey", rng.choice(["no_such_form", "", "../../etc/passwd", "x" * 300]))
        return el.get("id") if el.get(f"{{{CAMUNDA}}}formKey") else None

    def break_groups(root):
        el = pick(root, "userTask")
        el.set(f"{{{CAMUNDA}}}candidateGroups", rng.choice(["root", "admin,wizard", " , ", "'; DROP TABLE x;--"]))
        return el.get("id")

    def payload(root):
        target = rng.choice(["condition", "script", "timer"])
        code = rng.choice(PAYLOADS + BOUNDED)
        detail[0] = f"{target}: {code}"
        if target == "condition":
            flow = pick(root, "sequenceFlow")
            cond = etree.SubElement(flow, f"{{{BPMN}}}conditionExpression")
            cond.set("{http://www.w3.org/2001/XMLSchema-instance}type", "bpmn:tFormalExpression")
            cond.text = code
            return flow.get("id")
        process = root.find(f"{{{BPMN}}}process")
        if target == "script":
            task = etree.SubElement(process, f"{{{BPMN}}}scriptTask", id="evil_script", scriptFormat="python")
            etree.SubElement(task, f"{{{BPMN}}}script").text = code
            return "evil_script"
        event = etree.SubElement(process, f"{{{BPMN}}}intermediateCatchEvent", id="evil_timer")
        timer = etree.SubElement(event, f"{{{BPMN}}}timerEventDefinition", id="evil_timer_def")
        etree.SubElement(timer, f"{{{BPMN}}}timeDuration").text = code
        return "evil_timer"

    def junk_property(root):
        props = [e for e in _elements(root) if etree.QName(e).localname == "property"]
        prop = rng.choice(props)
        if rng.random() < 0.3:
            prop.set("name", rng.choice(PROPERTY_NAMES))
        prop.set("value", rng.choice(PROPERTY_JUNK))
        detail[0] = f"{prop.get('name')}={prop.get('value')[:40]}"

    def junk_timer(root):
        """A timer somewhere (added when the file has none) with a bad or extreme value."""
        timers = [e for e in _elements(root) if etree.QName(e).localname in ("timeDuration", "timeDate", "timeCycle")]
        if timers:
            timer = rng.choice(timers)
        else:
            event = etree.SubElement(root.find(f"{{{BPMN}}}process"), f"{{{BPMN}}}intermediateCatchEvent",
                                     id="junk_timer")
            definition = etree.SubElement(event, f"{{{BPMN}}}timerEventDefinition", id="junk_timer_def")
            timer = etree.SubElement(definition, f"{{{BPMN}}}{rng.choice(['timeDuration', 'timeDate', 'timeCycle'])}")
        timer.text = rng.choice(TIMER_JUNK)
        detail[0] = f"{etree.QName(timer).localname}={timer.text[:40]}"

    def deep_nesting(root):
        el = pick(root, "process")
        el = root if el is None else el
        for i in range(rng.choice([50, 300, 3000])):
            el = etree.SubElement(el, f"{{{BPMN}}}documentation" if i == 0 else "{urn:x}n")
        return None

    tree_mutations = {
        "delete_element": delete_element, "duplicate_element": duplicate_element, "rename_element": rename_element,
        "delete_attribute": delete_attribute, "rename_attribute": rename_attribute, "huge_attribute": huge_attribute,
        "break_flow": break_flow, "break_form_key": break_form_key, "break_groups": break_groups, "payload": payload,
        "deep_nesting": deep_nesting, "junk_property": junk_property, "junk_timer": junk_timer,
    }

    def entities():
        body = text.split("?>", 1)[1]
        kind = rng.choice(["laughs", "external", "parameter", "doctype"])
        if kind == "laughs":
            dtd = '<!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">' + "".join(
                f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9)) + "]>"
            body = body.replace('name="', 'name="&j;', 1)
        elif kind == "external":
            dtd = '<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            body = body.replace('name="', 'name="&x;', 1)
        elif kind == "parameter":
            dtd = '<!DOCTYPE d [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x.dtd"> %p;]>'
        else:
            dtd = '<!DOCTYPE bpmn:definitions SYSTEM "http://127.0.0.1:9/bpmn.dtd">'
        return f'<?xml version="1.0" encoding="UTF-8"?>\n{dtd}{body}'.encode()

    def byte_level(name):
        data = bytearray(xml)
        if name == "truncate":
            return bytes(data[: rng.randrange(0, len(data))])
        if name == "random_bytes":
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            return bytes(data)
        if name == "non_utf8":
            how = rng.choice(["gbk", "latin1_byte", "utf16", "declared_gbk"])
            if how == "gbk":
                return text.encode("gbk", errors="replace")
            if how == "latin1_byte":
                return bytes(data).replace(b'name="', b'name="\xff\xfe', 1)
            if how == "utf16":
                return text.encode("utf-16")
            return text.replace('encoding="UTF-8"', 'encoding="GBK"').encode("gbk", errors="replace")
        if name == "garbage":
            return rng.choice([b"", b" ", b"\x00" * 10, b"<", b"<?xml version='1.0'?>", b"null", b"{}",
                               bytes(rng.randrange(256) for _ in range(200)), b"\xef\xbb\xbf" + xml,
                               b"<a>" * 20000])
        raise AssertionError(name)

    names = [*tree_mutations, "entities", "truncate", "random_bytes", "non_utf8", "garbage"]
    while True:
        name = rng.choice(names)
        if name in tree_mutations:
            try:
                mutant, named = _with_tree(xml, tree_mutations[name])
            except (AttributeError, ValueError, IndexError):
                continue  # nothing to mutate that way in this file (e.g. no userTask)
            if name in ("payload", "junk_property", "junk_timer"):
                name = f"{name}[{detail[0]}]"
            yield name, mutant, named if name in ("break_flow", "break_form_key", "break_groups") else None
        elif name == "entities":
            yield name, entities(), None
        else:
            yield name, byte_level(name), None


@pytest.fixture
def deployed(api):
    deploy(api)
    return api


def test_mutated_bpmn_deploys_cleanly_or_is_refused(deployed):
    api = deployed
    rng = random.Random(seed())
    files = {key: (ROOT / "processes" / f"{key}.bpmn").read_bytes() for key in process_keys()}
    total = examples(BPMN_MUTANTS)
    outcomes: Counter = Counter()
    before = catalogue(api)
    generators = {key: bpmn_mutations(random.Random(rng.random()), xml) for key, xml in files.items()}
    for i in range(total):
        key = sorted(files)[i % len(files)]
        name, mutant, named = next(generators[key])
        label = f"{key}/{name}#{i}"
        r = api.call("POST", "/api/process-definitions", "process_owner", data=mutant, content_type="application/xml")
        outcomes[(name, r.status_code)] += 1
        if r.status_code in (200, 201):
            assert not any(code in name for code in PAYLOADS), (label, "a payload was accepted", r.get_json())
            after = catalogue(api)
            changed = {k for k in set(after[0]) | set(before[0]) if after[0].get(k) != before[0].get(k)}
            assert changed <= {r.get_json()["key"]} and after[1] == before[1], (label, changed)
            stored = api.get(f"/api/process-definitions/{r.get_json()['key']}/xml?version={r.get_json()['version']}",
                             "auditor")
            assert stored.status_code == 200 and stored.get_data() == mutant, label
            before = after
            continue
        body = assert_clean_4xx(r, label)
        assert catalogue(api) == before, (label, "a refused deploy changed the catalogue")
        if r.status_code == 422:
            errors = body["details"]["errors"]
            assert isinstance(errors, list) and errors, (label, body)
            assert all(set(e) - {"message_zh", "code"} == {"element_id", "message"} and isinstance(e["message"], str) for e in errors), (label, body)
            if named is not None:
                assert named in {e["element_id"] for e in errors}, (label, named, errors)
    assert not MARKER.exists(), "a payload ran"
    print("\nmutated BPMN:", total, "deploys;", json.dumps(
        dict(sorted(Counter({f"{n} {s}": c for (n, s), c in outcomes.items()}).items())), ensure_ascii=False))


# --------------------------------------------------------------------------- form mutations


def _json_paths(obj, trail=()):
    yield trail
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _json_paths(v, (*trail, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _json_paths(v, (*trail, i))


def _parent(obj, trail):
    for step in trail[:-1]:
        obj = obj[step]
    return obj


JUNK = [None, True, 0, -1, 1.5, 10**30, "", "x" * 100_000, "\x00", "中文", [], {}, [None], {"a": {"b": []}},
        "=__import__('os').system('id')", "<script>alert(1)</script>", "../../etc/passwd", "(a+)+$"]


def form_mutations(rng: random.Random, form: dict):
    """Yield ``(name, body bytes, content type)``."""
    while True:
        name = rng.choice(["delete", "duplicate", "rename_key", "junk_value", "swap_type", "truncate_text",
                           "non_utf8", "random_bytes", "huge", "deep", "wrong_content_type", "id", "pattern"])
        mutant = copy.deepcopy(form)
        paths = [p for p in _json_paths(mutant) if p]
        trail = rng.choice(paths)
        parent = _parent(mutant, trail)
        if name == "delete":
            del parent[trail[-1]]
        elif name == "duplicate":
            if isinstance(parent, list):
                parent.insert(trail[-1], copy.deepcopy(parent[trail[-1]]))
            else:
                parent[f"{trail[-1]}_copy"] = copy.deepcopy(parent[trail[-1]])
        elif name == "rename_key" and isinstance(parent, dict):
            parent[rng.choice(["key", "path", "type", "Key", "values", "validate", "components", "id"])] = parent.pop(trail[-1])
        elif name == "junk_value":
            parent[trail[-1]] = rng.choice(JUNK)
        elif name == "swap_type":
            comps = [p for p in paths if p[-1] == "type"]
            _parent(mutant, rng.choice(comps))["type"] = rng.choice(
                ["textfield", "number", "select", "checklist", "group", "dynamiclist", "filepicker", "datetime",
                 "expression", "unknown", "button", "iframe", "html"])
        elif name == "id":
            mutant["id"] = rng.choice(["", "1x", "a" * 101, "a b", "../x", "x\x00", None, 5, "中文表单"])
        elif name == "pattern":
            comps = [p for p in paths if p[-1] == "type"]
            comp = _parent(mutant, rng.choice(comps))
            comp.setdefault("validate", {})
            if isinstance(comp["validate"], dict):
                comp["validate"]["pattern"] = rng.choice(["^(a+)+$", "(", "(?<=a+)b", "\\", "[z-a]", "a{999999999999}"])
        elif name == "huge":
            mutant["components"] = [{"type": "textfield", "key": f"k{i}", "label": "x" * 50}
                                    for i in range(rng.choice([1000, 20000]))]
        body = json.dumps(mutant, ensure_ascii=False).encode("utf-8")
        if name == "deep":  # written as text: deeper than json.dumps (or the server's parser) can recurse
            depth = rng.choice([20, 200, 3000])
            nested = '{"type": "group", "path": "g", "components": [' * depth + '{"type": "textfield", "key": "k"}' + "]}" * depth
            body = f'{{"id": "{form["id"]}", "type": "default", "components": [{nested}]}}'.encode()
        content_type = "application/json"
        if name == "truncate_text":
            body = body[: rng.randrange(len(body))]
        elif name == "non_utf8":
            body = json.dumps(mutant, ensure_ascii=False).encode("gbk", errors="replace") if rng.random() < 0.5 \
                else body.replace(b'"label": "', b'"label": "\xff\xfe', 1)
        elif name == "random_bytes":
            data = bytearray(body)
            for _ in range(rng.randint(1, 6)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            body = bytes(data)
        elif name == "wrong_content_type":
            content_type = rng.choice(["text/plain", "application/xml", "multipart/form-data",
                                       "application/x-www-form-urlencoded"])
        yield name, body, content_type


def test_mutated_forms_deploy_cleanly_or_are_refused(deployed):
    api = deployed
    rng = random.Random(seed() + 1)
    files = {fid: json.loads((ROOT / "forms" / f"{fid}.form").read_text(encoding="utf-8")) for fid in form_ids()}
    generators = {fid: form_mutations(random.Random(rng.random()), form) for fid, form in files.items()}
    total = examples(FORM_MUTANTS)
    outcomes: Counter = Counter()
    before = catalogue(api)
    for i in range(total):
        fid = sorted(files)[i % len(files)]
        name, body, content_type = next(generators[fid])
        label = f"{fid}/{name}#{i}"
        r = api.call("POST", "/api/forms", "process_owner", data=body, content_type=content_type)
        outcomes[(name, r.status_code)] += 1
        if r.status_code in (200, 201):
            after = catalogue(api)
            changed = {k for k in set(after[1]) | set(before[1]) if after[1].get(k) != before[1].get(k)}
            assert changed <= {r.get_json()["id"]} and after[0] == before[0], (label, changed)
            back = api.get(f"/api/forms/{r.get_json()['id']}?version={r.get_json()['version']}", "auditor")
            assert back.status_code == 200 and back.get_json()["content"] == json.loads(body), label
            before = after
            continue
        payload = assert_clean_4xx(r, label)
        assert catalogue(api) == before, (label, "a refused deploy changed the catalogue")
        if r.status_code == 422:
            errors = payload["details"]["errors"]
            assert errors, (label, payload)
            if isinstance(errors, list):
                assert all({"component", "message"} <= set(e) for e in errors), (label, errors)
    print("\nmutated forms:", total, "deploys;", json.dumps(
        dict(sorted(Counter({f"{n} {s}": c for (n, s), c in outcomes.items()}).items())), ensure_ascii=False))


# (process, starter, start data, first task, who works it, its data)
RUNS = {
    "complaint_handling": ("counter_staff", {"category": "standard", "complaint_type": "billing_support", "customer_name": "张三",
                                             "contact_phone": "13800138000", "description": "不明扣费"},
                           "counter_staff", None),
    "one_counter": ("counter_staff", {"category": "payment", "customer_phone": "13900139000", "description": "缴费",
                                      "amount": 50},
                    "counter_staff", {"outcome": "technical", "issue_detail": "小区计费错误", "customer_name": "张三",
                                     "complaint_type": "billing_support"}),
}


@pytest.mark.parametrize("key", sorted(RUNS))
def test_accepted_mutants_still_start_and_run(deployed, key):
    """A mutant that deploys can be started and its first task worked -- or refuses cleanly (never a 5xx)."""
    api = deployed
    starter, data, worker, task_data = RUNS[key]
    rng = random.Random(seed() + 2)
    xml = (ROOT / "processes" / f"{key}.bpmn").read_bytes()
    seen: Counter = Counter()
    for tries, (name, mutant, _) in enumerate(bpmn_mutations(rng, xml)):
        if tries >= 40 * examples(6) or seen["deployed"] >= examples(6):
            break
        if not name.startswith(("delete_attribute", "rename_attribute", "duplicate_element", "delete_element",
                                "junk_property", "junk_timer")):
            continue
        r = api.call("POST", "/api/process-definitions", "process_owner", data=mutant, content_type="application/xml")
        if r.status_code not in (200, 201):
            assert_clean_4xx(r, name)
            continue
        seen["deployed"] += 1
        start = api.post(f"/api/process-definitions/{key}/instances", starter, json={"data": data})
        seen[f"start {start.status_code}"] += 1
        if start.status_code != 201:
            assert_clean_4xx(start, f"start after {name}")
            continue
        inst = start.get_json()
        assert api.get(f"/api/process-instances/{inst['id']}", "auditor").status_code == 200
        if task_data is None or not inst["open_tasks"]:
            continue
        task = inst["open_tasks"][0]["id"]
        done = api.post(f"/api/tasks/{task}/complete", worker, json={"data": task_data})
        seen[f"complete {done.status_code}"] += 1
        if done.status_code != 200:
            assert_clean_4xx(done, f"complete after {name}")
    print(f"\naccepted {key} mutants:", dict(sorted(seen.items())))
    assert seen["deployed"], "no mutant was accepted: the mutations no longer produce valid variants"
