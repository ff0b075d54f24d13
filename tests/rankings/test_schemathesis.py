"""Property-based run over the OpenAPI schema: no 5xx, no response that breaks the schema."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import positive_data_acceptance

from config.wsgi import application

# Schema-violating data must be refused with a 4xx; a query string longer than the API reads
# is rightly a 414 (documented: rankings.errors), which schemathesis does not count by default.
REFUSED = ["400", "401", "403", "404", "405", "406", "409", "414", "415", "422", "428", "429", "5xx"]
schema = schemathesis.openapi.from_wsgi(
    "/api/schema/?format=json",
    application,
    config=SchemathesisConfig.from_dict({"checks": {"negative_data_rejection": {"expected-statuses": REFUSED}}}),
)


@pytest.fixture(autouse=True)
def _data(usage):
    """Every generated call runs against the small known dataset, in the test transaction:
    like Django's test client, keep the WSGI handler from closing the connection."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@schema.exclude(method="POST").parametrize()
@settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
@pytest.mark.django_db
def test_read_api_never_fails_or_breaks_its_schema(case):
    # Cross-parameter rules (start needs end) cannot be said in OpenAPI: a schema-valid
    # request may rightly get a documented 400, so that one check is left out.
    case.call_and_validate(excluded_checks=[positive_data_acceptance])


@schema.include(method="POST").parametrize()
@settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
@pytest.mark.django_db
def test_ingest_never_answers_5xx(case, ingest_key):
    _, key = ingest_key
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {key}"}
    response = case.call()
    assert response.status_code < 500, response.text


@schemathesis.serializer("application/x-ndjson", "application/ndjson", "application/jsonl")
def _ndjson(ctx, value):
    """NDJSON bodies as a gateway sends them: one JSON value per line (strings as they are)."""
    import json

    if isinstance(value, str):
        return {"data": value.encode("utf-8", "surrogatepass")}
    items = value if isinstance(value, list) else [value]
    return {"data": "\n".join(json.dumps(item) for item in items).encode()}
