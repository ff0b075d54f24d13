import pytest

from ingest.services import import_events
from rankings.models import App
from tests.factories import EventFactory

XSS_NAME = "<img src=x onerror=alert(1)>"


@pytest.fixture
def usage(db):
    """A small known dataset through the real bulk ingest path: two apps (one private, one
    with a hostile name), three models, this week and the week before."""
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    events = []
    for days_ago, count in ((1, 30), (9, 10)):
        at = (now - timedelta(days=days_ago)).isoformat()
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
        created_at=(now - timedelta(hours=2)).isoformat(),
        model="deepseek/deepseek-r1",
        origin="https://secret.example",
        app_name="Secret App",
        provider_name="Chutes",
    )
    totals = import_events(events)
    assert totals.accepted == len(events)
    App.objects.filter(origin="https://secret.example").update(is_public=False)
    return events
