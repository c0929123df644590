"""Schema fuzzing of the JSON API with schemathesis, in-process over WSGI.

The OpenAPI document is loaded from the running Flask app (``/api/openapi.json``); every
documented operation gets one test per pass:

* ``admin``/positive: schema-valid requests from an administrator;
* ``admin``/negative: schema-violating requests (wrong types, missing fields, bad JSON);
* ``counter_staff``/positive: a low-privilege user, so the 403 paths run too.

Path parameters are drawn half from real objects (deployed processes and forms, started
instances, open tasks, an uploaded document, the seeded users and halls) and half
generated, so requests reach real rows as well as 404s.

Checks on every response:

* ``not_a_server_error``: no 5xx, ever (the server log's traceback is attached);
* ``status_code_conformance``: the status is documented for the operation;
* ``content_type_conformance``: the Content-Type is documented;
* ``response_schema_conformance``: the JSON body matches the documented schema;
* ``negative_data_rejection`` (negative pass): schema-violating input gets a 4xx;
* every 4xx body is the JSON error envelope ``{error, message, details}``.

Left off: ``positive_data_acceptance`` (schema-valid data is often refused on purpose by
business rules the schema cannot express: unknown org unit, a form's own validation, a
task in the wrong state: 422/409 are correct answers) and ``ignored_auth``/the stateful
checks (the permission matrix is tested row by row in tests/web/api/test_permissions.py).

Operations that revoke credentials (sign-out, revoke-tokens, user updates that deactivate
or re-password a user) run like the others; after each of their calls the two fuzzing
users are restored and get fresh tokens, so one call cannot turn the rest of the run into
401s. SQLite only: this exercises the HTTP layer and validation, which do not depend on
the database (the definition/form mutation fuzzing runs on both databases).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections import Counter

import pytest
import schemathesis
import schemathesis.specs.openapi.checks as oa_checks
from hypothesis import given
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from tests.conftest import Api
from tests.fuzz.conftest import fuzz_settings

pytestmark = pytest.mark.fuzz

EXAMPLES = 12  # per operation and pass: ~47 operations x 3 passes stay well under 90 s on 2 cores
PASSES = [("admin", "positive"), ("admin", "negative"), ("counter_staff", "positive")]
# Operations after which the fuzzing users are repaired (see module docstring).
CREDENTIAL_CHANGING = {
    "POST /api/auth/logout",
    "POST /api/users/{username}/revoke-tokens",
    "PATCH /api/users/{username}",
}
STATS: Counter = Counter()


# --------------------------------------------------------------------------- collection


def _documented_operations() -> list[str]:
    """Labels ``METHOD /path`` of the OpenAPI document, read from a throwaway app."""
    import tempfile

    from engine.app import BpmEngine
    from engine.config import load_settings
    from web import create_app
    from web.routing import openapi_document

    with tempfile.TemporaryDirectory() as tmp:
        engine = BpmEngine(load_settings(database_url=f"sqlite:///{tmp}/openapi.sqlite3", var_dir=tmp))
        app = create_app(engine)
        with app.test_request_context():
            doc = openapi_document()
        engine.close()
    return [f"{method.upper()} {path}" for path, ops in doc["paths"].items() for method in ops]


OPERATIONS = _documented_operations()


# --------------------------------------------------------------------------- the seeded application


class ServerErrors(logging.Handler):
    """Keeps the tracebacks web.errors logs for unhandled exceptions (the 500 handler)."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record):
        self.records.append(self.format(record))


@pytest.fixture(scope="module")
def fuzz(sqlite_app):
    """The app with every business process deployed and a few instances, tasks and a document."""
    from tests.support.business import deploy, start, upload

    @sqlite_app.app.before_request
    def _count_probes():
        from flask import request

        sent = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if request.path.startswith("/api/") and sent not in sqlite_app.tokens.values():
            STATS["requests without a valid token (ignored_auth probes)"] += 1

    api = Api(sqlite_app.app.test_client(), sqlite_app.tokens)
    deploy(api)
    complaint = {"category": "standard", "complaint_type": "billing_support", "customer_name": "张三", "contact_phone": "13800138000",
                 "description": "上月话费账单有一笔不明扣费"}
    instances = [
        start(api, "counter_staff", "complaint_handling", complaint)["id"],
        start(api, "counter_staff", "complaint_handling", {**complaint, "category": "technical"})["id"],
        start(api, "counter_staff", "one_counter",
              {"category": "payment", "customer_phone": "13900139000", "description": "缴费", "amount": 50})["id"],
        start(api, "enforcement_officer", "supply_approval", {
            "licence_no": "420100123456", "retailer_name": "城关便民烟酒店",
            "lines": [{"brand": "zhonghua", "specification": "软", "quantity": 2}],
            "reason": "春节前备货", "attachments": [upload(api, "enforcement_officer", "供货审批表.pdf")]})["id"],
    ]
    tasks = [t["id"] for t in api.get("/api/tasks?per_page=200", "admin").get_json()["items"]]
    assert len(tasks) >= len(instances)
    claimed = api.post(f"/api/tasks/{tasks[0]}/claim", "counter_staff")
    assert claimed.status_code == 200, claimed.get_json()
    doc = upload(api, "counter_staff", "回执.pdf")
    sqlite_app.objects = {
        "key": ["complaint_handling", "one_counter", "supply_approval", "hall-1"],
        "form_id": ["complaint_intake", "supply_request", "counter_handle"],
        "instance_id": instances,
        "task_id": tasks,
        "doc_id": [doc],
        "username": ["admin", "counter_staff", "auditor", "nobody"],
        "hall": ["hall-1", "hall-2"],
        "notification_id": ["1"],
    }
    handler = ServerErrors()
    logging.getLogger("web.errors").addHandler(handler)
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", sqlite_app.app)
    yield sqlite_app, schema, handler
    logging.getLogger("web.errors").removeHandler(handler)


def _repair_users(fa) -> None:
    """Undo what a credential-changing call did to the fuzzing users; fresh tokens for both."""
    from sqlalchemy import delete, select

    from engine.identity import auth as identity
    from engine.identity.actor import SYSTEM
    from engine.store.models import User, UserRole
    from web import auth

    roles = {"admin": ["admin"], "counter_staff": ["counter_staff"]}
    with fa.engine.uow(SYSTEM) as uow:
        for name, wanted in roles.items():
            user = uow.session.execute(select(User).where(User.username == name)).scalar_one()
            user.is_active, user.org_unit = True, "hall-1"
            uow.session.execute(delete(UserRole).where(UserRole.user_id == user.id))
            for role in wanted:
                uow.session.add(UserRole(user_id=user.id, role=role))
            uow.session.flush()
            fa.tokens[name] = identity._new_token(uow.session, user, 3600)
    auth._cache.clear()


# --------------------------------------------------------------------------- checks


def _error_envelope(response) -> None:
    _error_envelope_of(response.status_code, response.content)


def _error_envelope_of(status: int, content: bytes) -> None:
    """Every 4xx is JSON ``{error, message, details}`` (405s from werkzeug included)."""
    if 400 <= status < 500:
        body = json.loads(content)
        assert isinstance(body, dict) and {"error", "message", "details"} <= set(body), body
        assert isinstance(body["error"], str) and isinstance(body["message"], str), body


CHECKS = [
    not_a_server_error,
    oa_checks.status_code_conformance,
    oa_checks.content_type_conformance,
    oa_checks.response_schema_conformance,
]


def _strategy(operation, mode, objects):
    """Generated cases, and as many again with a path parameter naming a real object."""
    generated = operation.as_strategy(generation_mode=mode)
    names = [p.name for p in operation.path_parameters]
    real = [name for name in names if objects.get(name)]
    if not real:
        return generated
    name = real[0]
    return st.one_of(
        generated,
        st.sampled_from(objects[name]).flatmap(
            lambda value: operation.as_strategy(generation_mode=mode, path_parameters={name: value})),
    )


@pytest.mark.parametrize("user,mode", PASSES, ids=[f"{u}-{m}" for u, m in PASSES])
@pytest.mark.parametrize("label", OPERATIONS)
def test_operation(fuzz, label, user, mode):
    fa, schema, errors = fuzz
    method, path = label.split(" ", 1)
    operation = schema[path][method]
    generation = GenerationMode.NEGATIVE if mode == "negative" else GenerationMode.POSITIVE
    checks = CHECKS + ([oa_checks.negative_data_rejection] if mode == "negative" else [oa_checks.ignored_auth])
    if generation == GenerationMode.NEGATIVE and not (operation.body or operation.query or operation.path_parameters):
        pytest.skip("no parameters or body to make invalid")
    started = time.monotonic()

    @fuzz_settings(EXAMPLES)
    @given(case=_strategy(operation, generation, fa.objects))
    def run(case):
        headers = {"Authorization": f"Bearer {fa.tokens[user]}"}
        seen = len(errors.records)
        response = case.call(headers=headers)
        STATS["examples"] += 1
        STATS[f"status {response.status_code // 100}xx"] += 1
        try:
            if response.status_code >= 500 and len(errors.records) > seen:
                raise AssertionError(f"{label} -> {response.status_code}\n" + "\n".join(errors.records[seen:]))
            case.validate_response(response, checks=checks, headers=headers)
            _error_envelope(response)
        finally:
            if label in CREDENTIAL_CHANGING:
                _repair_users(fa)
                STATS["user repairs after credential-changing calls"] += 1

    run()
    STATS["tests"] += 1
    STATS["seconds"] += time.monotonic() - started


def test_undocumented_methods_get_405_with_allow(fuzz):
    """Every documented path refuses the other methods with a JSON 405 naming the allowed ones."""
    fa, schema, _ = fuzz
    client = fa.app.test_client()
    doc = client.get("/api/openapi.json").get_json()
    checked = 0
    for path, ops in doc["paths"].items():
        documented = {m.upper() for m in ops}
        url = re.sub(r"{[^}]+}", "1", path)
        for method in {"GET", "POST", "PUT", "PATCH", "DELETE"} - documented:
            r = client.open(url, method=method, headers={"Authorization": f"Bearer {fa.tokens['admin']}"})
            assert r.status_code == 405, (method, path, r.status_code)
            _error_envelope_of(r.status_code, r.get_data())
            assert documented <= {m.strip() for m in r.headers.get("Allow", "").split(",")}, (method, path)
            checked += 1
    STATS["405 checks"] += checked


def test_zz_report(fuzz):
    """Print the figures of this run (examples per response class); runs last in the module."""
    if not STATS["examples"]:
        pytest.skip("no operation ran (selected with -k?)")
    print("\nschemathesis:", json.dumps({**STATS, "seconds": round(STATS["seconds"], 1),
                                         "documented_operations": len(OPERATIONS)}, sort_keys=True))
