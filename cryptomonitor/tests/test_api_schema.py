"""The OpenAPI schema at /api/schema/ and the docs pages that render it."""

import re

import pytest
from drf_spectacular.validation import validate_schema

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(api_client) -> dict:
    response = api_client.get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def operations(schema: dict):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {path}", operation


def test_the_schema_is_valid_openapi_3(schema):
    assert schema["openapi"].startswith("3.")
    validate_schema(schema)


def test_every_operation_has_a_summary_and_a_description(schema):
    missing = [
        name for name, op in operations(schema) if not (op.get("summary") and op.get("description"))
    ]
    assert missing == []


def test_every_answer_with_a_body_is_typed_and_has_an_example(schema):
    untyped = []
    for name, operation in operations(schema):
        for status, response in operation["responses"].items():
            content = response.get("content", {}).get("application/json")
            if content is None:
                assert status in ("204", "304"), f"{name} {status} has no JSON body"
                continue
            if "schema" not in content or not content.get("examples"):
                untyped.append(f"{name} {status}")
        body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if body is not None and not body.get("examples"):
            untyped.append(f"{name} request")
    assert untyped == []


def test_every_operation_documents_the_error_shape_and_429(schema):
    for name, operation in operations(schema):
        for status in ("400", "401", "404", "429"):
            ref = operation["responses"][status]["content"]["application/json"]["schema"]["$ref"]
            assert ref.endswith("/Error"), name
        assert "Retry-After" in operation["responses"]["429"]["headers"], name


def test_the_conditional_lists_document_their_etag_and_the_304(schema):
    for path in ("/api/v1/coins/", "/api/v1/alerts/"):
        operation = schema["paths"][path]["get"]

        assert "If-None-Match" in [
            p["name"] for p in operation["parameters"] if p["in"] == "header"
        ]
        assert "ETag" in operation["responses"]["200"]["headers"]
        assert "ETag" in operation["responses"]["304"]["headers"]


def test_the_schema_lists_the_token_scheme(schema):
    scheme = schema["components"]["securitySchemes"]["tokenAuth"]
    assert (scheme["in"], scheme["name"]) == ("header", "Authorization")


def test_alert_fields_are_the_documented_ones(schema):
    properties = schema["components"]["schemas"]["AlertRequest"]["properties"]
    assert set(properties) == {
        "coin",
        "currency",
        "condition",
        "target",
        "threshold",
        "range_low",
        "range_high",
        "percent",
        "window",
        "frequency",
        "cooldown_seconds",
        "expires_at",
        "note",
        "channels",
    }


@pytest.mark.parametrize("url", ["/api/docs/", "/api/redoc/"])
def test_the_docs_pages_load_only_our_own_static_files(api_client, url):
    response = api_client.get(url)
    assert response.status_code == 200
    page = response.content.decode()
    sources = re.findall(r'(?:src|href)\s*=\s*["\']([^"\']+)["\']', page)
    assert sources, "the page loads no assets?"
    external = [s for s in sources if "//" in s or not s.startswith(("/static/", "/api/"))]
    assert external == []
    assert "cdn" not in page.lower()


def test_the_docs_assets_are_served(client):
    for path in (
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js",
        "/static/drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js",
    ):
        assert client.get(path).status_code == 200, path
