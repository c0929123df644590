"""Instance migration: moving running instances to a newer process version (engine/runtime/migration.py).

Fixtures: migration_v1 (fill -> review), migration_v2 (fill renamed, check inserted after
fill), migration_v3 (fill removed).
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from bpm_cli.main import main
from engine.store.models import AuditEvent, ProcessInstance, Task, Timer
from tests.conftest import deploy_fixture_forms, fixture_text
from tests.support.pages import csrf, sign_in

NOTE = {"note": "ok"}


# --------------------------------------------------------------------------- helpers


def deploy(api, name):
    r = api.deploy_xml(fixture_text(name))
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def start(api, user="counter_staff", business_key=None):
    r = api.post("/api/process-definitions/migrating/instances", user, json={"data": {"customer": "张三"},
                                                                             "business_key": business_key})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def complete(api, inst_id, user, data=NOTE):
    inst = api.get(f"/api/process-instances/{inst_id}", "admin").get_json()
    [task] = inst["open_tasks"]
    r = api.post(f"/api/tasks/{task['id']}/complete", user, json={"data": data})
    assert r.status_code == 200, r.get_json()
    return r.get_json()["instance"]


def migrate(api, inst_id, user="process_owner", **body):
    return api.post(f"/api/process-instances/{inst_id}/migration", user, json=body)


def instance(api, inst_id):
    return api.get(f"/api/process-instances/{inst_id}", "admin").get_json()


def snapshot(engine, inst_id):
    """Everything a migration could touch, straight from the database."""
    with engine.read() as db:
        row = db.get(ProcessInstance, inst_id)
        tasks = sorted((t.id, t.element_id, t.name, t.status) for t in db.execute(
            select(Task).where(Task.instance_id == inst_id)).scalars())
        timers = sorted((t.id, t.task_id, t.state, t.fire_at) for t in db.execute(
            select(Timer).where(Timer.instance_id == inst_id)).scalars())
        events = db.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
        return {"state": row.state, "definition_id": row.definition_id, "lock_version": row.lock_version,
                "status": row.status, "data": row.data, "tasks": tasks, "timers": timers, "events": events}


def events(api, inst_id, action):
    timeline = api.get(f"/api/process-instances/{inst_id}/timeline", "admin").get_json()
    return [e for e in timeline["events"] if e["action"] == action]


@pytest.fixture
def migrating(api):
    deploy_fixture_forms(api)
    assert deploy(api, "migration_v1.bpmn")["version"] == 1
    return api


# --------------------------------------------------------------------------- compatible change


def test_compatible_change_migrates_and_runs_to_completion_on_the_new_version(migrating, engine):
    api = migrating
    inst = start(api)
    [fill] = inst["open_tasks"]
    assert api.post(f"/api/tasks/{fill['id']}/claim", "counter_staff").status_code == 200
    deploy(api, "migration_v2.bpmn")

    r = migrate(api, inst["id"])
    assert r.status_code == 200, r.get_json()
    report = r.get_json()
    assert report["possible"] and report["migrated"] and not report["dry_run"] and report["refusals"] == []
    assert (report["from_version"], report["to_version"]) == (1, 2)
    assert [a["element_id"] for a in report["spec"]["added"]] == ["check"]
    assert report["spec"]["removed"] == []
    changed = {c["element_id"]: c["changes"] for c in report["spec"]["changed"]}
    assert "name" in changed["fill"]
    [moved] = report["tasks"]["moved"]
    assert moved["task_id"] == fill["id"] and moved["to_name"] == "填写申请"
    assert report["tasks"]["created"] == [] and report["tasks"]["cancelled"] == []
    assert report["data_changed"] == []

    after = instance(api, inst["id"])
    assert after["definition_version"] == 2 and after["status"] == "running"
    assert after["data"] == inst["data"]
    [task] = after["open_tasks"]
    # the same task row, claimed by the same person, now with the new label
    assert task["id"] == fill["id"] and task["assignee"] == "counter_staff"
    assert task["name"] == "填写申请"

    # it runs on v2 to the end: fill -> (new) check -> review
    after = complete(api, inst["id"], "counter_staff")
    assert [t["element_id"] for t in after["open_tasks"]] == ["check"]
    assert api.get("/api/tasks?scope=candidate", "hall_manager").get_json()["total"] == 1
    after = complete(api, inst["id"], "hall_manager")
    assert [t["element_id"] for t in after["open_tasks"]] == ["review"]
    after = complete(api, inst["id"], "duty_manager")
    assert after["status"] == "completed" and after["definition_version"] == 2
    assert {"fill", "check", "review"} <= set(after["completed_elements"])
    assert after["data"]["customer"] == "张三"

    [event] = events(api, inst["id"], "instance_migrated")
    assert event["details"]["from_version"] == 1 and event["details"]["to_version"] == 2
    assert [a["element_id"] for a in event["details"]["changes"]["added"]] == ["check"]
    assert event["details"]["tasks"]["moved"][0]["task_id"] == fill["id"]
    assert event["actor"] == "process_owner"
    assert api.get("/api/audit/verify", "auditor").get_json()["ok"] is True


def test_an_instance_past_a_removed_step_moves_and_finishes(migrating):
    """The removed element is finished history (the root of the compacted state tree)."""
    api = migrating
    inst = start(api)
    complete(api, inst["id"], "counter_staff")  # fill done, waiting at review
    deploy(api, "migration_v2.bpmn")
    deploy(api, "migration_v3.bpmn")  # v3 has no fill
    r = migrate(api, inst["id"], "admin", target_version=3)
    assert r.status_code == 200, r.get_json()
    assert [m["to_element_id"] for m in r.get_json()["tasks"]["moved"]] == ["review"]
    after = instance(api, inst["id"])
    assert after["definition_version"] == 3 and [t["element_id"] for t in after["open_tasks"]] == ["review"]
    after = complete(api, inst["id"], "duty_manager")
    assert after["status"] == "completed" and after["definition_version"] == 3


def test_dry_run_reports_and_changes_nothing(migrating, engine):
    api = migrating
    inst = start(api)
    deploy(api, "migration_v2.bpmn")
    before = snapshot(engine, inst["id"])

    r = migrate(api, inst["id"], dry_run=True)
    assert r.status_code == 200, r.get_json()
    report = r.get_json()
    assert report["possible"] is True and report["migrated"] is False and report["dry_run"] is True
    assert report["to_version"] == 2 and [a["element_id"] for a in report["spec"]["added"]] == ["check"]
    assert [m["element_id"] for m in report["tasks"]["moved"]] == ["fill"]

    assert snapshot(engine, inst["id"]) == before  # state, tasks, timers and the audit log untouched
    assert instance(api, inst["id"])["definition_version"] == 1
    assert events(api, inst["id"], "instance_migrated") == []


# --------------------------------------------------------------------------- refusals


def test_removed_current_task_is_refused_naming_the_element(migrating, engine):
    api = migrating
    inst = start(api)
    deploy(api, "migration_v2.bpmn")
    deploy(api, "migration_v3.bpmn")
    before = snapshot(engine, inst["id"])

    r = migrate(api, inst["id"])  # latest = v3, where fill is gone
    assert r.status_code == 409, r.get_json()
    body = r.get_json()
    assert body["error"] == "migration_refused" and "fill" in body["message"]
    [refusal] = body["details"]["refusals"]
    assert refusal["element_id"] == "fill" and refusal["reason"] == "removed" and refusal["state"] == "READY"
    assert refusal["task_id"] == inst["open_tasks"][0]["id"]
    assert snapshot(engine, inst["id"]) == before

    # the dry run says the same without an error status
    report = migrate(api, inst["id"], dry_run=True, target_version=3).get_json()
    assert report["possible"] is False and [x["element_id"] for x in report["refusals"]] == ["fill"]
    # ... and v2 is still reachable
    assert migrate(api, inst["id"], target_version=2).status_code == 200


def test_only_admins_and_process_owners_migrate(migrating):
    api = migrating
    inst = start(api)
    deploy(api, "migration_v2.bpmn")
    for user in ("counter_staff", "hall_manager", "auditor"):
        r = migrate(api, inst["id"], user, dry_run=True)
        assert r.status_code == 403, (user, r.get_json())
    assert instance(api, inst["id"])["definition_version"] == 1


def test_finished_instance_cannot_be_migrated(migrating):
    api = migrating
    inst = start(api)
    complete(api, inst["id"], "counter_staff")
    complete(api, inst["id"], "duty_manager")
    deploy(api, "migration_v2.bpmn")
    r = migrate(api, inst["id"])
    assert r.status_code == 409 and "completed" in r.get_json()["message"]


def test_target_version_must_exist_and_be_newer(migrating):
    api = migrating
    inst = start(api)
    assert migrate(api, inst["id"]).status_code == 409  # no newer version yet
    deploy(api, "migration_v2.bpmn")
    assert migrate(api, inst["id"], target_version=1).status_code == 422
    assert migrate(api, inst["id"], target_version=9).status_code == 404
    assert migrate(api, "no-such-instance").status_code == 404


def test_timer_keeps_its_due_time_across_a_migration(api, engine):
    """An instance waiting on a BPMN timer: same timer row, same due time, after the move."""
    deploy_fixture_forms(api)
    xml = fixture_text("timers.bpmn")
    assert api.deploy_xml(xml).status_code == 201
    inst = api.post("/api/process-definitions/timers/instances", "counter_staff", json={"data": {}}).get_json()
    inst = complete(api, inst["id"], "counter_staff")
    [timer] = inst["pending_timers"]
    assert timer["element_id"] == "wait"
    v2 = xml.replace('name="办理 Handle"', 'name="办理业务 Handle the request"')
    assert v2 != xml and api.deploy_xml(v2).status_code == 201

    r = migrate(api, inst["id"])
    assert r.status_code == 200, r.get_json()
    report = r.get_json()
    assert [t["element_id"] for t in report["timers"]["kept"]] == ["wait"]
    assert report["timers"]["rescheduled"] == [] and report["timers"]["cancelled"] == []
    after = instance(api, inst["id"])
    assert after["definition_version"] == 2 and after["pending_timers"] == [timer]


def test_changed_type_or_form_of_the_current_task_is_refused(migrating):
    api = migrating
    inst = start(api)
    v1 = fixture_text("migration_v1.bpmn")
    other_form = {"id": "other_note", "type": "default", "components": [{"type": "textfield", "key": "x", "label": "X"}]}
    assert api.deploy_form(other_form).status_code == 201
    r = api.deploy_xml(v1.replace('id="fill" name="填写 Fill in" camunda:formKey="simple_note"',
                                  'id="fill" name="填写 Fill in" camunda:formKey="other_note"'))
    assert r.status_code == 201, r.get_json()
    report = migrate(api, inst["id"], dry_run=True).get_json()
    assert [(x["element_id"], x["reason"]) for x in report["refusals"]] == [("fill", "form_changed")]

    as_manual = v1.replace('<bpmn:userTask id="fill" name="填写 Fill in" camunda:formKey="simple_note" '
                           'camunda:candidateGroups="counter_staff">', '<bpmn:manualTask id="fill" name="填写 Fill in">')
    as_manual = as_manual.replace("    </bpmn:userTask>\n    <bpmn:userTask id=\"review\"",
                                  "    </bpmn:manualTask>\n    <bpmn:userTask id=\"review\"")
    r = api.deploy_xml(as_manual)
    assert r.status_code == 201, r.get_json()
    r = migrate(api, inst["id"], target_version=3)
    assert r.status_code == 409
    assert [(x["element_id"], x["reason"]) for x in r.get_json()["details"]["refusals"]] == [("fill", "type_changed")]
    assert instance(api, inst["id"])["definition_version"] == 1


def test_parallel_branch_moves_with_new_candidates_and_the_join_still_fires(api):
    deploy_fixture_forms(api)
    xml = fixture_text("parallel.bpmn")
    assert api.deploy_xml(xml).status_code == 201
    inst = api.post("/api/process-definitions/parallel/instances", "counter_staff", json={"data": {}}).get_json()
    left = next(t for t in inst["open_tasks"] if t["element_id"] == "left")
    right = next(t for t in inst["open_tasks"] if t["element_id"] == "right")
    assert api.post(f"/api/tasks/{left['id']}/complete", "counter_staff", json={"data": NOTE}).status_code == 200
    v2 = xml.replace('name="右 Right" camunda:formKey="simple_note" camunda:candidateGroups="duty_manager"',
                     'name="右侧复核 Right review" camunda:formKey="simple_note" camunda:candidateGroups="hall_manager"')
    assert v2 != xml and api.deploy_xml(v2).status_code == 201

    report = migrate(api, inst["id"]).get_json()
    [moved] = report["tasks"]["moved"]
    assert moved["task_id"] == right["id"] and moved["to_candidate_groups"] == ["hall_manager"]
    assert "candidate_groups" in {c for e in report["spec"]["changed"] for c in e["changes"]}
    # the task now belongs to the new candidate group
    assert api.get("/api/tasks?scope=candidate", "duty_manager").get_json()["total"] == 0
    [listed] = api.get("/api/tasks?scope=candidate", "hall_manager").get_json()["items"]
    assert listed["id"] == right["id"] and listed["name"] == "右侧复核"

    r = api.post(f"/api/tasks/{right['id']}/complete", "hall_manager", json={"data": NOTE})
    assert r.status_code == 200, r.get_json()
    after = r.get_json()["instance"]
    assert [t["element_id"] for t in after["open_tasks"]] == ["after"]  # the join saw both branches
    assert complete(api, inst["id"], "counter_staff")["status"] == "completed"


def test_task_inside_a_running_subprocess_migrates(api):
    """The subprocess's own workflow is diffed and migrated with the new subprocess spec."""
    deploy_fixture_forms(api)
    assert api.deploy_xml(fixture_text("migration_sub_v1.bpmn")).status_code == 201
    inst = api.post("/api/process-definitions/migrating_sub/instances", "counter_staff", json={"data": {}}).get_json()
    [inner] = inst["open_tasks"]
    assert inner["element_id"] == "inner"
    assert api.deploy_xml(fixture_text("migration_sub_v2.bpmn")).status_code == 201

    r = migrate(api, inst["id"])
    assert r.status_code == 200, r.get_json()
    [moved] = r.get_json()["tasks"]["moved"]
    assert moved["task_id"] == inner["id"] and moved["to_name"] == "受理登记"
    after = complete(api, inst["id"], "counter_staff")
    assert [t["element_id"] for t in after["open_tasks"]] == ["inner_check"]
    after = complete(api, inst["id"], "hall_manager")
    assert [t["element_id"] for t in after["open_tasks"]] == ["review"]
    assert complete(api, inst["id"], "duty_manager")["status"] == "completed"


def test_incident_instance_moves_to_a_fixed_version_and_retries_there(api):
    """A model bug: deploy the fix, migrate the failed instance, retry it on the new version."""
    deploy_fixture_forms(api)
    xml = fixture_text("divide_script.bpmn")
    assert api.deploy_xml(xml).status_code == 201
    inst = api.post("/api/process-definitions/divide/instances", "counter_staff", json={"data": {"divisor": 0}}).get_json()
    inst = complete(api, inst["id"], "counter_staff", {"note": "x", "amount": 10})
    assert inst["status"] == "incident" and inst["incident"]["element_id"] == "compute"
    fixed = xml.replace("total = amount / divisor", "total = amount / divisor if divisor else 0")
    assert fixed != xml and api.deploy_xml(fixed).status_code == 201

    r = migrate(api, inst["id"])
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status_after"] == "incident"
    after = instance(api, inst["id"])
    assert after["definition_version"] == 2 and after["status"] == "incident"
    assert after["incident"] == inst["incident"]  # the original failure stays on record until retried

    r = api.post(f"/api/process-instances/{inst['id']}/retry", "admin", json={})
    assert r.status_code == 200, r.get_json()
    done = r.get_json()
    assert done["status"] == "running" and done["data"]["total"] == 0
    assert [t["element_id"] for t in done["open_tasks"]] == ["check"]


# --------------------------------------------------------------------------- bulk and CLI


def test_bulk_migration_reports_per_instance(migrating):
    api = migrating
    at_fill = start(api, business_key="A-1")
    at_review = start(api, business_key="A-2")
    complete(api, at_review["id"], "counter_staff")
    deploy(api, "migration_v2.bpmn")
    deploy(api, "migration_v3.bpmn")
    url = "/api/process-definitions/migrating/migrations"

    assert api.post(url, "counter_staff", json={"from_version": 1, "dry_run": True}).status_code == 403
    dry = api.post(url, "process_owner", json={"from_version": 1, "to_version": 3, "dry_run": True}).get_json()
    assert (dry["total"], dry["possible"], dry["refused"], dry["migrated"]) == (2, 1, 1, 0)
    items = {i["instance_id"]: i for i in dry["items"]}
    assert items[at_fill["id"]]["refusals"][0]["element_id"] == "fill"
    assert items[at_review["id"]]["possible"] and not items[at_review["id"]]["migrated"]
    assert instance(api, at_review["id"])["definition_version"] == 1

    real = api.post(url, "process_owner", json={"from_version": 1, "to_version": 3}).get_json()
    assert (real["total"], real["migrated"], real["refused"]) == (2, 1, 1)
    assert instance(api, at_review["id"])["definition_version"] == 3
    assert instance(api, at_fill["id"])["definition_version"] == 1
    # the refused one can still go to v2
    real = api.post(url, "process_owner", json={"from_version": 1, "to_version": 2}).get_json()
    assert (real["total"], real["migrated"]) == (1, 1)
    assert instance(api, at_fill["id"])["definition_version"] == 2


def test_cli_migrate_and_migrate_all(migrating, engine):
    api = migrating
    first, second = start(api), start(api)
    deploy(api, "migration_v2.bpmn")
    env = {"BPM_DATABASE_URL": engine.settings.database_url, "BPM_VAR_DIR": str(engine.settings.var_dir)}
    runner = CliRunner()

    def run(*args):
        return runner.invoke(main, list(args), env=env, catch_exceptions=False)

    result = run("instances", "migrate", first["id"], "--dry-run")
    assert result.exit_code == 0, result.output
    assert '"possible": true' in result.output and '"migrated": false' in result.output
    assert instance(api, first["id"])["definition_version"] == 1

    result = run("instances", "migrate", first["id"], "--to", "2")
    assert result.exit_code == 0, result.output
    assert instance(api, first["id"])["definition_version"] == 2
    [event] = events(api, first["id"], "instance_migrated")
    assert event["actor"] == "system"

    deploy(api, "migration_v3.bpmn")
    result = run("instances", "migrate", second["id"])  # to v3: fill removed
    assert result.exit_code == 2 and "fill" in result.output

    result = run("instances", "migrate-all", "migrating", "--from", "1", "--to", "2", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "would migrate 1 of 1" in result.output
    result = run("instances", "migrate-all", "migrating", "--from", "1", "--to", "2")
    assert result.exit_code == 0, result.output
    assert instance(api, second["id"])["definition_version"] == 2


# --------------------------------------------------------------------------- instance page


def test_instance_page_button_dry_run_and_confirm(migrating, app):
    api = migrating
    staff_inst = start(api)
    owner_inst = start(api, "process_owner")
    deploy(api, "migration_v2.bpmn")

    staff, _ = sign_in(app, "counter_staff")
    page = staff.get(f"/instances/{staff_inst['id']}").get_data(as_text=True)
    assert 'data-testid="migrate-button"' not in page
    assert staff.get(f"/instances/{staff_inst['id']}/migration").status_code == 403

    owner, _ = sign_in(app, "process_owner")
    page = owner.get(f"/instances/{owner_inst['id']}").get_data(as_text=True)
    assert 'data-testid="migrate-button"' in page and "迁移到 v2" in page

    report = owner.get(f"/instances/{owner_inst['id']}/migration")
    assert report.status_code == 200
    html = report.get_data(as_text=True)
    assert 'data-testid="migration-report"' in html and "check" in html
    assert snapshot_version(api, owner_inst["id"]) == 1  # viewing the report changes nothing

    r = owner.post(f"/instances/{owner_inst['id']}/migration", data={"target_version": "2"})
    assert r.status_code == 400  # no CSRF token
    r = owner.post(f"/instances/{owner_inst['id']}/migration",
                   data={"target_version": "2", "csrf_token": csrf(html)})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/instances/{owner_inst['id']}")
    assert snapshot_version(api, owner_inst["id"]) == 2
    page = owner.get(f"/instances/{owner_inst['id']}").get_data(as_text=True)
    assert 'data-action="instance_migrated"' in page and 'data-testid="migrate-button"' not in page

    admin, _ = sign_in(app, "admin")
    assert 'data-testid="migrate-button"' in admin.get(f"/instances/{staff_inst['id']}").get_data(as_text=True)

    # the latest version (v3) drops the current step: the report names it and offers no confirm button;
    # the page can check v2 instead
    deploy(api, "migration_v3.bpmn")
    html = admin.get(f"/instances/{staff_inst['id']}/migration").get_data(as_text=True)
    assert 'data-testid="migration-refused"' in html and 'data-element="fill"' in html
    assert 'data-testid="migration-confirm"' not in html
    assert f"/instances/{staff_inst['id']}/migration?to=2" in html
    html = admin.get(f"/instances/{staff_inst['id']}/migration?to=2").get_data(as_text=True)
    assert 'data-testid="migration-confirm"' in html and 'name="target_version" value="2"' in html


def snapshot_version(api, inst_id):
    return instance(api, inst_id)["definition_version"]
