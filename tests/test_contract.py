"""The API contract: published behind sign-in, covering every /api route, and fuzzed.

The fuzz (schemathesis, in-process against the app) runs every declared
operation with its examples and with generated cases: no answer may be a
500, each status must be one the operation declares, and each body must fit
its declared schema.
"""
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

from tests.support import token_for

UNDOCUMENTED = {"/api/openapi.json", "/api/docs"}   # the contract itself and its page


def test_the_contract_is_published_behind_sign_in(app, client, anonymous):
    assert anonymous.get("/api/openapi.json").status_code == 401
    assert anonymous.get("/api/docs").status_code == 401
    contract = client.get("/api/openapi.json").json
    assert contract["openapi"].startswith("3.1")
    declared = {(path, method.upper()) for path, operations in contract["paths"].items() for method in operations}
    routes = {(rule.rule, method)
              for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/") and rule.rule not in UNDOCUMENTED
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    as_openapi = {(_openapi_path(path), method) for path, method in routes}
    assert as_openapi == declared, sorted(as_openapi ^ declared)
    start = contract["paths"]["/api/tasks"]["post"]
    assert {"400", "401", "403", "409", "202"} <= set(start["responses"])


def _openapi_path(rule: str) -> str:
    """/api/status/<task_id> -> /api/status/{task_id}; converters dropped."""
    import re
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", re.sub(r"<([a-z]+)\([^)]*\):", r"<\1:", rule))


@pytest.fixture
def api_schema(app):
    app.config["FUZZ_TOKEN"] = token_for()
    return schemathesis.openapi.from_wsgi("/api/openapi.json", app, headers={
        "Authorization": f"Bearer {app.config['FUZZ_TOKEN']}"})


def never_a_500(ctx, response, case):
    assert response.status_code != 500, f"{case.method} {case.path} answered 500: {response.text[:300]}"


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_keeps_its_contract(case):
    token = case.operation.schema.app.config["FUZZ_TOKEN"]
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=[never_a_500, status_code_conformance, content_type_conformance,
                                   response_schema_conformance])


@pytest.mark.browser
def test_the_docs_page_shows_every_operation(live_server, page):
    from playwright.sync_api import expect
    blocked = []
    page.on("console", lambda message: blocked.append(message.text) if "Content Security Policy" in message.text
            else None)
    page.goto(live_server + "/api/docs")
    expect(page.locator(".opblock-summary-path", has_text="/api/similar_tracks")).to_have_count(1)
    expect(page.locator(".opblock")).to_have_count(39)
    assert blocked == []
