from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from ingest.rollups.windows import period_window
from ingest.services import import_events
from rankings.models import App, TagKey
from tests.factories import EventFactory

XSS_NAME = "<img src=x onerror=alert(1)>"


@pytest.fixture(autouse=True)
def _known_clock(known_clock):
    """Every rankings test reads at one known moment (tests/conftest.py, KNOWN_MOMENT)."""


@pytest.fixture
def usage(db):
    """A small known dataset through the real bulk ingest path: two apps (one private, one
    with a hostile name), three models, this week and the week before."""
    now = datetime.now(UTC)
    # Mid-way through this week so far, and the same moment a week earlier (in the previous
    # window, the same elapsed time of last week): whatever the weekday and hour.
    this_week = period_window("week", now).start + (now - period_window("week", now).start) / 2
    today = now - min(timedelta(hours=2), (now - period_window("day", now).start) / 2)
    events = []
    for moment, count in ((this_week, 30), (this_week - timedelta(days=7), 10)):
        at = moment.isoformat()
        events += EventFactory.build_batch(count, created_at=at, model="anthropic/claude-sonnet-4")
        events += EventFactory.build_batch(
            count // 2,
            created_at=at,
            model="google/gemini-2.5-flash:free",
            provider_name="Google Vertex",
            origin="https://evil.example",
            app_name=XSS_NAME,
            categories="roleplay",
        )
    events += EventFactory.build_batch(
        5,
        created_at=today.isoformat(),
        model="deepseek/deepseek-r1",
        origin="https://secret.example",
        app_name="Secret App",
        provider_name="Chutes",
    )
    totals = import_events(events)
    assert totals.accepted == len(events)
    App.objects.filter(origin="https://secret.example").update(is_public=False)
    return events


MODELS = ("anthropic/claude-sonnet-4", "google/gemini-2.5-flash", "deepseek/deepseek-r1")
APPS = (("https://cline.bot", "Cline"), ("https://chat.example", "Chat"), ("https://secret.example", "Secret"))
PROMPTS = (300, 4_000, 40_000, 400_000, 2_000_000)
LANGUAGES = ("python", "typescript", "rust", "go", "java", "secret-lang")


@pytest.fixture
def narrow(db):
    """Six weeks of events: three models on two providers, three apps (the third private,
    the only one to use "secret-lang" and the harness "secret-harness"), prompts in every
    context bucket, tool calls with failures of every kind, sessions of 1 to 60 turns, and a
    task key limited to three values (the rest fold into "other")."""
    TagKey.objects.filter(key="task").update(max_values=3)
    now = datetime.now(UTC)
    events = []
    n = 0
    for session in range(40):
        origin, name = APPS[session % 3]
        private = origin == APPS[2][0]
        turns = (1, 3, 12, 60, 2)[session % 5]
        start = now - timedelta(days=session, hours=session % 7, minutes=3)
        harness = "secret-harness" if private else ("cline", "", "claude-code")[session % 3]
        for turn in range(turns):
            n += 1
            calls = n % 4
            failures = {"invalid_json": 1} if calls == 3 else {"unknown_tool": 1, "schema_mismatch": 1} if calls == 2 else None
            events.append(
                EventFactory.build(
                    created_at=(start + timedelta(minutes=7 * turn)).isoformat(),
                    model=MODELS[(session + (turn > 40)) % 3],
                    provider_name=("Together", "Fireworks")[n % 2],
                    origin=origin,
                    app_name=name,
                    tokens_prompt=PROMPTS[n % 5],
                    tool_calls=calls,
                    tool_call_errors=failures,
                    finish_reason="tool_calls" if n % 7 == 0 else "stop",
                    tags={
                        "programming_language": "secret-lang" if private else LANGUAGES[n % 5],
                        "language": ("en", "zh-hans", "de")[n % 3],
                        "task": f"task-{n % 6}",
                    },
                    session_id=f"s-{session}",
                    harness=harness or None,
                    total_cost=str(Decimal("0.001") * (1 + n % 11)),
                )
            )
    # Events with nothing of the new fields still count (context length from their prompt).
    events += EventFactory.build_batch(
        6, created_at=(now - timedelta(hours=5)).isoformat(), tool_calls=None, tags=None, session_id=None
    )
    assert import_events(events).accepted == len(events)
    App.objects.filter(origin=APPS[2][0]).update(is_public=False)
    return events
