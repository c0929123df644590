"""``GET /api/openapi.json``: a valid OpenAPI 3 document describing every endpoint."""

from __future__ import annotations

import re

import pytest

# --------------------------------------------------------------------------- helpers

# What the product promises (catalog and runtime endpoints), as "METHOD /path".
PROMISED = {
    "GET /api/health", "GET /api/openapi.json", "POST /api/auth/token", "POST /api/auth/logout", "GET /api/me",
    "GET /api/process-definitions", "POST /api/process-definitions", "GET /api/process-definitions/{key}",
    "GET /api/process-definitions/{key}/xml", "GET /api/forms", "POST /api/forms", "GET /api/forms/{form_id}",
    "POST /api/documents", "GET /api/documents/{doc_id}",
    "POST /api/process-definitions/{key}/instances", "GET /api/process-instances",
    "GET /api/process-instances/{instance_id}", "GET /api/process-instances/{instance_id}/timeline",
    "POST /api/process-instances/{instance_id}/retry", "GET /api/tasks", "GET /api/tasks/{task_id}",
    "POST /api/tasks/{task_id}/claim", "POST /api/tasks/{task_id}/unclaim", "POST /api/tasks/{task_id}/complete",
}
PUBLIC = {"GET /api/health", "GET /api/openapi.json", "POST /api/auth/token"}


def operations(doc):
    """``{"METHOD /path": operation}``."""
    return {f"{method.upper()} {path}": op for path, ops in doc["paths"].items() for method, op in ops.items()}


def flask_routes(app):
    out = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
            out |= {f"{m} {path}" for m in rule.methods - {"HEAD", "OPTIONS"}}
    return out


def resolve(doc, schema):
    ref = schema.get("$ref")
    if ref is None:
        return schema
    assert ref.startswith("#/components/schemas/"), ref
    return doc["components"]["schemas"][ref.rsplit("/", 1)[1]]


@pytest.fixture
def doc(api):
    r = api.get("/api/openapi.json")  # no token needed
    assert r.status_code == 200 and r.is_json
    return r.get_json()


# --------------------------------------------------------------------------- tests


def test_document_is_valid_openapi_3(doc):
    from openapi_spec_validator import validate

    assert doc["openapi"].startswith("3.")
    assert doc["info"]["title"] and doc["info"]["version"]
    validate(doc)  # raises on any violation of the OpenAPI 3 schema (e.g. a dangling $ref)


def test_every_route_is_documented_with_its_method(app, doc):
    documented = set(operations(doc))
    assert PROMISED <= documented, sorted(PROMISED - documented)
    # and nothing served is missing from the description (nor described but not served)
    assert flask_routes(app) == documented


def test_json_request_bodies_reference_component_schemas(doc):
    ops = operations(doc)
    for name in ["POST /api/auth/token", "POST /api/forms", "POST /api/process-definitions/{key}/instances",
                 "POST /api/tasks/{task_id}/complete", "POST /api/process-instances/{instance_id}/retry"]:
        schema = ops[name]["requestBody"]["content"]["application/json"]["schema"]
        assert "$ref" in schema, (name, schema)
        assert resolve(doc, schema)["properties"], name
    token = resolve(doc, ops["POST /api/auth/token"]["requestBody"]["content"]["application/json"]["schema"])
    assert set(token["required"]) == {"username", "password"}


def test_file_uploads_document_the_file_field(doc):
    ops = operations(doc)
    upload = ops["POST /api/documents"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert "$ref" in upload
    assert resolve(doc, upload)["properties"]["file"] == {"type": "string", "format": "binary", "description": "the file"}
    deploy = ops["POST /api/process-definitions"]["requestBody"]["content"]
    assert set(deploy) == {"application/xml", "multipart/form-data"}
    assert resolve(doc, deploy["multipart/form-data"]["schema"])["required"] == ["file"]


def test_responses_and_security(doc):
    ops = operations(doc)
    for name, op in ops.items():
        if name in PUBLIC:
            assert "security" not in op, name
        else:
            assert op["security"] == [{"bearer": []}], name
            assert "401" in op["responses"], name
        for code, response in op["responses"].items():
            if code.startswith(("4", "5")):
                assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    assert doc["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    # deploying is idempotent: 201 for a new version, 200 when identical
    for name in ["POST /api/process-definitions", "POST /api/forms"]:
        assert {"200", "201", "403", "422"} <= set(ops[name]["responses"]), name
        ok = resolve(doc, ops[name]["responses"]["201"]["content"]["application/json"]["schema"])
        assert "created" in ok["properties"] and "version" in ok["properties"]
    assert {"201", "413", "422"} <= set(ops["POST /api/documents"]["responses"])
    assert {"403", "404"} <= set(ops["GET /api/documents/{doc_id}"]["responses"])
    definition = doc["components"]["schemas"]["Definition"]["properties"]
    assert {"candidate_starter_groups", "start_form", "version", "key"} <= set(definition)


def test_path_parameters_are_declared(doc):
    for path, ops in doc["paths"].items():
        names = set(re.findall(r"{([^}]+)}", path))
        for op in ops.values():
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == names, (path, declared)
    xml = doc["paths"]["/api/process-definitions/{key}/xml"]["get"]
    assert any(p["in"] == "query" and p["name"] == "version" for p in xml["parameters"])
