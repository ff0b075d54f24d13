"""Growth decompositions: exactly additive, right on known cases, and the summary's numbers
are the API's numbers."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.services import import_events
from rankings import growth, selectors
from rankings.selectors import Window
from rankings.templatetags.rankings_format import points
from tests.factories import EventFactory, usage_in_windows

positive = st.floats(min_value=1, max_value=1e15, allow_nan=False)


@given(t0=positive, r0=positive, t1=positive, r1=positive)
def test_volume_and_intensity_always_sum_to_the_change(t0, r0, t1, r1):
    volume, intensity = growth.volume_intensity(t0, r0, t1, r1)
    assert math.isclose(volume + intensity, t1 - t0, rel_tol=1e-9, abs_tol=1e-6)


def test_only_more_requests_means_no_intensity_part():
    volume, intensity = growth.volume_intensity(1000, 10, 3000, 30)
    assert intensity == pytest.approx(0, abs=1e-9) and volume == pytest.approx(2000)


def test_only_longer_requests_means_no_volume_part():
    volume, intensity = growth.volume_intensity(1000, 10, 2500, 10)
    assert volume == pytest.approx(0, abs=1e-9) and intensity == pytest.approx(1500)


def test_log_mean():
    assert growth.log_mean(5, 5) == 5
    assert growth.log_mean(math.e, 1) == pytest.approx(math.e - 1)


def windows():
    after = selectors.rolling_window(7)
    return after.previous(), after


def at(window: Window, hours: float) -> str:
    return (window.start + timedelta(hours=hours)).isoformat()


event_spec = st.tuples(
    st.booleans(),  # in the later window?
    st.sampled_from(
        ["anthropic/claude-sonnet-4", "google/gemini-2.5-flash:free", "deepseek/deepseek-r1:nitro"]
    ),
    st.sampled_from(["https://a.example", "https://b.example", "https://c.example"]),
    st.sampled_from(["programming", "roleplay", "legal"]),
    st.integers(min_value=200, max_value=50_000),
    st.integers(min_value=10, max_value=5_000),
)


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(specs=st.lists(event_spec, min_size=1, max_size=25))
@pytest.mark.django_db
def test_every_decomposition_is_additive_on_random_usage(specs):
    # Hypothesis runs many examples in one test: each gets its own rolled-back savepoint.
    with transaction.atomic():
        check_additivity(specs)
        transaction.set_rollback(True)


def check_additivity(specs):
    before, after = windows()
    events = usage_in_windows([(int(later), *rest) for later, *rest in specs], (before, after), hours=100)
    import_events(events)
    g = growth.decompose(after, with_history=False)
    assert g.change == sum(
        e["tokens_prompt"] + e["tokens_completion"]
        for e in events
        if e["created_at"] >= after.start.isoformat()
    ) - sum(
        e["tokens_prompt"] + e["tokens_completion"]
        for e in events
        if e["created_at"] < after.start.isoformat()
    )
    assert math.isclose(g.volume + g.intensity, g.change, abs_tol=1e-6)
    assert sum(g.mix.values()) == g.change
    for name, contributors in g.contributors.items():
        assert math.isclose(sum(c.change for c in contributors.items), g.change, abs_tol=1e-6), name
        assert math.isclose(
            contributors.new_total + contributors.departed_total + contributors.incumbent_total,
            g.change,
            abs_tol=1e-6,
        )
    assert sum(v["after"] - v["before"] for v in g.variants) == g.change


@pytest.mark.django_db
def test_a_new_app_counts_wholly_as_a_new_entrant():
    before, after = windows()
    import_events(EventFactory.build_batch(3, created_at=at(before, 5), origin="https://old.example"))
    newcomer = EventFactory.build_batch(
        4, created_at=at(after, 5), origin="https://new.example", app_name="Newcomer"
    )
    import_events(newcomer)
    apps = growth.decompose(after, with_history=False).contributors["app"]
    [new_item] = [c for c in apps.items if c.kind == "new"]
    assert new_item.entity.name == "Newcomer"
    assert (
        new_item.change
        == sum(e["tokens_prompt"] + e["tokens_completion"] for e in newcomer)
        == apps.new_total
    )


@pytest.mark.django_db
def test_private_apps_are_folded_without_their_names(client):
    from rankings.models import App

    before, after = windows()
    import_events(
        EventFactory.build_batch(
            2, created_at=at(after, 3), origin="https://hidden.example", app_name="Hidden"
        )
    )
    App.objects.filter(origin="https://hidden.example").update(is_public=False)
    body = client.get("/api/v1/growth").content.decode() + client.get("/growth/").content.decode()
    assert "Hidden" not in body and "hidden-example" not in body
    assert "(private apps)" in body


@pytest.mark.django_db
def test_summary_numbers_equal_the_api_numbers(client):
    before, after = windows()
    import_events(EventFactory.build_batch(10, created_at=at(before, 2), categories="roleplay"))
    import_events(
        EventFactory.build_batch(25, created_at=at(after, 2), tokens_prompt=4000, origin="https://cline.bot")
    )
    data = client.get("/api/v1/growth").json()
    summary = " ".join(data["summary"])
    tokens = data["tokens"]
    assert f"grew {tokens['change_pct']:.0f}%" in summary
    assert f"explain {points(data['volume_intensity']['volume_points'], 1)}," in summary
    assert f"(tokens per request) {points(data['volume_intensity']['intensity_points'], 1)}." in summary
    page = client.get("/growth/").content.decode()
    for sentence in data["summary"]:
        assert sentence.replace("'", "&#x27;") in page
    assert 'class="plot' in page and "/api/v1/growth" in page


@pytest.mark.django_db
def test_growth_parameters_and_empty_state(client):
    assert client.get("/api/v1/growth").json()["summary"] == ["No usage in either window."]
    assert client.get("/api/v1/growth?period=bogus").status_code == 400
    assert client.get("/growth/?period=bogus").status_code == 200
    window = selectors.period_window("month")
    response = client.get(
        f"/api/v1/growth?start={window.start.isoformat().replace('+00:00', 'Z')}&end={window.end.isoformat().replace('+00:00', 'Z')}"
    )
    assert response.status_code == 200


@pytest.mark.django_db
def test_the_report_is_computed_with_the_collector_paused_and_resumes_it(client, monkeypatch):
    """No full collection of the process's heap in the middle of a report (an 80 ms pause every
    other report on the bench dataset); the collector runs again afterwards, failure or not,
    and a pause someone else holds is left to them."""
    import gc

    from rankings.api import growth as api

    seen = []
    decompose = growth.decompose

    def watched(window):
        seen.append(gc.isenabled())
        return decompose(window)

    monkeypatch.setattr(growth, "decompose", watched)
    assert client.get("/api/v1/growth").status_code == 200
    assert seen == [False] and gc.isenabled()

    def failing(window):
        raise RuntimeError("read failed")

    monkeypatch.setattr(growth, "decompose", failing)
    with pytest.raises(RuntimeError):
        api._report(selectors.rolling_window(7))
    assert gc.isenabled()
