"""POST /api/v1/integrations/litellm driven by LiteLLM itself: its completion code (mock
responses, no network) builds the StandardLoggingPayloads and its generic_api logger sends them,
in each log format; payloads are checked against LiteLLM's own TypedDict."""

from __future__ import annotations

import asyncio
import copy
import gzip
import json
import os
from decimal import Decimal

import pytest

from ingest.models import InboxBatch, SourceTally
from tests.conftest import wait_for
from tests.factories import rollup_totals

# Before LiteLLM is imported: its model price map from the package, not downloaded.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

URL = "/api/v1/integrations/litellm"
# pydantic notes that it does not enforce LiteLLM's ReadOnly items; validation is what we want.
pytestmark = pytest.mark.filterwarnings("ignore:Items .* `ReadOnly` qualifier:UserWarning")


def _litellm():
    import litellm

    return litellm


def payload_type():
    from litellm.types.utils import StandardLoggingPayload
    from pydantic import TypeAdapter

    return TypeAdapter(StandardLoggingPayload)


def model_response(prompt: int, completion: int, cached: int = 0, reasoning: int = 0, model: str = ""):
    """A provider answer as LiteLLM's mock_response takes it (a new response id each time)."""
    from litellm.types.utils import (
        CompletionTokensDetailsWrapper,
        ModelResponse,
        PromptTokensDetailsWrapper,
        Usage,
    )

    usage = Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=prompt + completion,
        prompt_tokens_details=PromptTokensDetailsWrapper(cached_tokens=cached),
        completion_tokens_details=CompletionTokensDetailsWrapper(reasoning_tokens=reasoning),
    )
    choice = {"message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop", "index": 0}
    return ModelResponse(model=model, choices=[choice], usage=usage)


CALLS = [
    # (model as the proxy calls it, served model, prompt, completion, cached, reasoning)
    (
        "bedrock/us.anthropic.claude-3-5-sonnet-20241022-v2:0",
        "claude-3-5-sonnet-20241022",
        1200,
        300,
        1000,
        0,
    ),
    ("gemini/gemini-2.5-pro", "gemini-2.5-pro", 800, 900, 0, 600),
    ("openai/gpt-4o-mini", "gpt-4o-mini-2024-07-18", 50, 20, 0, 0),
]
METADATA = {"user_api_key_alias": "ci-key", "user_api_key_team_alias": "Search team"}


async def _generate(logger) -> list[dict]:
    """Run the calls (and one failing call) through LiteLLM; return the payloads it queued."""
    litellm = _litellm()
    litellm.callbacks = [logger]
    try:
        for model, served, prompt, completion, cached, reasoning in CALLS:
            await litellm.acompletion(
                model=model,
                messages=[{"role": "user", "content": "hi"}],
                mock_response=model_response(prompt, completion, cached, reasoning, served),
                metadata=METADATA,
            )
        with pytest.raises(Exception, match="upstream down"):
            await litellm.acompletion(
                model="openai/gpt-4o",
                messages=[{"role": "user", "content": "hi"}],
                mock_response=Exception("upstream down"),
                metadata=METADATA,
            )
        for _ in range(100):  # success and failure callbacks run as tasks
            if len(logger.log_queue) >= len(CALLS) + 1:
                break
            await asyncio.sleep(0.05)
        return [copy.deepcopy(p) for p in logger.log_queue]
    finally:
        litellm.callbacks = []


def _logger(endpoint: str, key: str, log_format: str):
    from litellm.integrations.generic_api.generic_api_callback import GenericAPILogger

    return GenericAPILogger(
        endpoint=endpoint, headers={"Authorization": f"Bearer {key}"}, log_format=log_format, batch_size=1000
    )


def cache_hit_of(payload: dict) -> dict:
    """What LiteLLM logs when its cache answers the same request again."""
    return {
        **payload,
        "id": payload["id"] + "_cache_hit1796000000.0",
        "cache_hit": True,
        "response_cost": 0.0,
    }


@pytest.mark.worker
def test_litellm_generic_api_logger_in_every_format_counted_once(live_server, worker, ingest_key):
    _, key = ingest_key
    endpoint = f"{live_server.url}{URL}?app=team"
    checked = payload_type()

    async def run() -> list[dict]:
        logger = _logger(endpoint, key, "json_array")
        payloads = await _generate(logger)
        await logger.flush_queue()  # LiteLLM's own sender, its own serialisation
        for payload in [*payloads, cache_hit_of(payloads[0])]:
            checked.validate_python(payload)  # LiteLLM's StandardLoggingPayload, as it defines it
        # Resent in the other two formats, with a cache hit of the first call.
        for log_format in ("ndjson", "single"):
            resender = _logger(endpoint, key, log_format)
            resender.log_queue.extend([*payloads, cache_hit_of(payloads[0])])
            await resender.flush_queue()
        # Close LiteLLM's keep-alive connections: each holds a live-server thread (and its
        # database session) open past the test otherwise.
        await logger.async_httpx_client.close()
        return payloads

    payloads = asyncio.run(run())
    statuses = [p["status"] for p in payloads]
    assert statuses.count("success") == 3 and statuses.count("failure") == 1
    wait_for(
        lambda: InboxBatch.objects.exists() and not InboxBatch.objects.exclude(status="done").exists(), 120
    )
    successes = [p for p in payloads if p["status"] == "success"]
    expected = {
        "requests": 3,
        "prompt_tokens": 1200 + 800 + 50,
        "completion_tokens": 300 + 900 + 20,
        "reasoning_tokens": 600,
        "cached_tokens": 1000,
        "cache_write_tokens": 0,
        # USD as sent, kept to 10 decimal places (numeric(24, 10)).
        "cost": sum(
            (Decimal(repr(p["response_cost"])).quantize(Decimal("1e-10")) for p in successes), Decimal(0)
        ),
    }
    assert expected["cost"] > 0
    wait_for(lambda: rollup_totals() == expected, timeout=10)
    events = [e for batch in InboxBatch.objects.all() for e in batch.events]
    assert sorted(e["model"] for e in events) == [
        "anthropic/claude-3-5-sonnet-20241022",
        "google/gemini-2.5-pro",
        "openai/gpt-4o-mini-2024-07-18",
    ]
    assert {e["provider_name"] for e in events} == {"Amazon Bedrock", "Google AI Studio", "OpenAI"}
    assert {e["app_name"] for e in events} == {"Search team"}
    tallies = {
        (o, r): n
        for o, r, n in SourceTally.objects.filter(source="litellm").values_list("outcome", "reason", "count")
    }
    # Sent three times (json_array, ndjson, single); the cache hit in the last two.
    assert tallies[("accepted", "")] == 3
    assert tallies[("duplicate", "")] == 6
    assert tallies[("rejected", "failed request without token usage")] == 3
    cache_hits = [n for (o, r), n in tallies.items() if r.startswith("cache hit")]
    assert cache_hits == [2]


@pytest.fixture(scope="module")
def real_payload() -> dict:
    """One payload exactly as LiteLLM builds it, for the hostile-input tests to vary."""
    from litellm.integrations.custom_logger import CustomLogger

    class Capture(CustomLogger):
        def __init__(self):
            super().__init__()
            self.payloads: list[dict] = []

        async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
            self.payloads.append(kwargs["standard_logging_object"])

    async def run() -> dict:
        capture = Capture()
        litellm = _litellm()
        litellm.callbacks = [capture]
        try:
            await litellm.acompletion(
                model="anthropic/claude-sonnet-4-20250514",
                messages=[{"role": "user", "content": "hi"}],
                mock_response=model_response(100, 10, model="claude-sonnet-4-20250514"),
                metadata=METADATA,
            )
            for _ in range(100):
                if capture.payloads:
                    break
                await asyncio.sleep(0.05)
        finally:
            litellm.callbacks = []
        return json.loads(json.dumps(capture.payloads[0], default=str))

    payload = asyncio.run(run())
    payload_type().validate_python(payload)
    return payload


def post(client, key, body, content_type="application/json", **extra):
    if not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    if key is not None:
        extra["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    return client.post(URL, data=body, content_type=content_type, **extra)


def variant(payload: dict, n: int, **changes) -> dict:
    return {**copy.deepcopy(payload), "id": f"chatcmpl-{n}", **changes}


@pytest.mark.django_db
def test_single_object_and_ndjson_labelled_json(client, ingest_key, real_payload):
    _, key = ingest_key
    one = post(client, key, variant(real_payload, 1))
    assert one.status_code == 202 and one.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
    lines = "\n".join(json.dumps(variant(real_payload, n)) for n in (1, 2, 3)) + "\n{broken\n"
    answer = post(client, key, lines).json()
    assert (answer["accepted"], answer["duplicates"]) == (2, 1)
    assert answer["rejected"][0]["index"] == 3 and "line 4" in answer["rejected"][0]["errors"]["event"]
    event = InboxBatch.objects.order_by("pk").first().events[0]
    assert event["model"] == "anthropic/claude-sonnet-4-20250514" and event["provider_name"] == "Anthropic"
    assert event["app_name"] == "ci-key"  # the key alias by default
    assert (event["prompt"], event["completion"]) == (100, 10)


@pytest.mark.django_db
def test_cache_hits_failures_and_bad_values_are_rejected_with_reasons(client, ingest_key, real_payload):
    _, key = ingest_key
    batch = [
        variant(real_payload, 1),
        cache_hit_of(variant(real_payload, 1)),
        variant(real_payload, 2, status="failure", prompt_tokens=0, completion_tokens=0, metadata={}),
        variant(real_payload, 3, prompt_tokens=10**12),
        variant(real_payload, 4, response_cost="NaN"),
        variant(real_payload, 5, startTime=1e300, endTime=None),
        variant(real_payload, 6, model="", response=None, hidden_params={}, model_group=None),
        "not an object",
        variant(real_payload, 7, status="failure", prompt_tokens=500, completion_tokens=0, response=None),
    ]
    answer = post(client, key, batch).json()
    assert answer["accepted"] == 2
    reasons = {r["index"]: r["errors"] for r in answer["rejected"]}
    assert "cache hit" in reasons[1]["usage"]
    assert reasons[2]["usage"] == "failed request without token usage"
    assert "at most" in reasons[3]["native_tokens_prompt"]
    assert reasons[4]["total_cost"] == "must be a number"
    assert reasons[5]["usage"] == "no startTime or endTime"
    assert reasons[6]["usage"] == "no model"
    assert reasons[7]["usage"] == "not a JSON object"
    assert [r["id"] for r in answer["rejected"]][:2] == ["chatcmpl-1_cache_hit1796000000.0", "chatcmpl-2"]
    failed = [e for e in InboxBatch.objects.get().events if e["id"] == "chatcmpl-7"]
    assert failed[0]["finish_reason"] == "error" and failed[0]["prompt"] == 500


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("[", 400, "parse_error"),
        ("[]", 400, "empty_batch"),
        ('"text"', 400, "parse_error"),
        ("[" * 100_000, 400, "parse_error"),
        (b"\xff", 400, "parse_error"),
    ],
)
def test_whole_body_errors(client, ingest_key, body, status, code):
    _, key = ingest_key
    response = post(client, key, body)
    assert response.status_code == status and response.json()["error"]["code"] == code
    assert SourceTally.objects.get(source="litellm", outcome="refused").reason == code


@pytest.mark.django_db
def test_auth_app_parameter_size_and_gzip_bomb(client, ingest_key, settings, real_payload):
    _, key = ingest_key
    assert post(client, None, [real_payload]).status_code == 401
    bad_app = client.post(
        URL + "?app=org", data="[]", content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}"
    )
    assert bad_app.status_code == 400 and bad_app.json()["error"]["field"] == "app"
    bomb = gzip.compress(b" " * (80 * 1024 * 1024), compresslevel=9)
    assert post(client, key, bomb, HTTP_CONTENT_ENCODING="gzip").status_code == 413
    settings.TOKENRANK = {**settings.TOKENRANK, "RECEIVER_MAX_BYTES": 1000}
    assert post(client, key, [real_payload]).status_code == 413
    assert post(client, key, "[]", content_type="text/csv").status_code == 415
    assert InboxBatch.objects.count() == 0
