"""The ingest health page counts each way in: events, OTLP spans, LiteLLM payloads."""

import json

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from tests.factories import EventFactory, post_events
from tests.ingest.test_otlp import broadcast_body


@pytest.mark.django_db
def test_health_page_shows_per_source_counts_and_reasons(client, ingest_key):
    _, key = ingest_key
    post_events(client, key, [EventFactory.build(), EventFactory.build(tokens_prompt=-1)])
    body = broadcast_body(2)
    hostile = {
        "traceId": "ab" * 16,
        "spanId": "cd" * 8,
        "attributes": [
            {"key": "gen_ai.operation.name", "value": {"stringValue": "<script>alert(1)</script>"}}
        ],
    }
    body["resourceSpans"][0]["scopeSpans"][0]["spans"].append(hostile)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    client.post("/otlp/v1/traces", data=json.dumps(body), content_type="application/json", **auth)
    client.post("/otlp/v1/traces", data=json.dumps(body), content_type="application/json", **auth)
    client.post("/api/v1/integrations/litellm", data="[", content_type="application/json", **auth)
    # Whole requests of events refused: a body that does not parse, a media type not read.
    client.post("/api/v1/events", data="[", content_type="application/json", **auth)
    client.post("/api/v1/events", data="x", content_type="text/plain", **auth)
    user = User.objects.create_user("op", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name="operator"))
    client.force_login(user)
    page = client.get(reverse("admin:ingest_health")).content.decode()
    section = page[page.index("By source") : page.index("Events per minute")]
    rows = [(row.split("</th>")[0].rsplit(">", 1)[-1], row) for row in section.split("<tr>")[2:]]
    otlp_rows = [row for label, row in rows if label == "OTLP spans"]
    windows = [[cell.split("</td>")[0] for cell in row.split("<td>")[1:]][:5] for row in otlp_rows]
    # accepted 2, duplicates 2 (the resend), rejected 2 (one per send), no refused request
    assert windows == [["last hour", "2", "2", "2", "0"], ["last day", "2", "2", "2", "0"]]
    otlp = otlp_rows[0]
    assert "not inference (&lt;script&gt;alert(1)&lt;/script&gt; span)" in otlp
    assert "<script>alert" not in page
    events = [row for label, row in rows if label.startswith("Events")][0]
    assert "invalid tokens_prompt" in events
    assert "refused: <code>parse_error</code>" in events and "<code>unsupported_media_type</code>" in events
    litellm = [row for label, row in rows if label == "LiteLLM payloads"][0]
    assert "refused: <code>parse_error</code>" in litellm
