"""The pages' sections of tool calls, languages, context length, tags and cost per session:
the selectors' numbers, their tabs as links and htmx fragments, the metric switch, entity
pages, and private apps' tags and sessions on no page."""

from __future__ import annotations

import re

import pytest
from django.utils.html import escape

from ingest.services import import_events
from rankings import selectors
from rankings.models import App, LLMModel, TagKey
from rankings.templatetags.rankings_format import compact, usd
from tests.factories import EventFactory
from tests.rankings.conftest import APPS, MODELS

pytestmark = pytest.mark.django_db
NARROW = ("tools", "languages", "context", "tags", "sessions")


def fragment(client, query: str) -> str:
    response = client.get(f"/?{query}", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    return response.content.decode()


def test_home_shows_every_narrow_section_without_private_apps(client, narrow):
    body = client.get("/?period=month&sections=all").content.decode()
    for section in NARROW:
        assert f'id="{section}"' in body
        assert f'href="/embed/{section}/?period=month"' in body
    assert "secret" not in body.lower()


@pytest.mark.parametrize("section", NARROW)
def test_every_narrow_section_has_an_embed(client, narrow, section):
    response = client.get(f"/embed/{section}/?period=month&theme=dark")
    assert response.status_code == 200
    assert f'id="{section}"' in response.content.decode()


def test_tool_calls_section_shows_the_selector_numbers(client, narrow):
    body = fragment(client, "section=tools&period=month")
    ranking = selectors.tool_ranking(selectors.period_window("month"), limit=10)
    for row in ranking.rows:
        assert row.entities["model"].name in body
        assert compact(row.tool_calls) in body
    assert "Invalid JSON" in body and "Unknown tool" in body and "Schema mismatch" in body
    # The kinds' columns add up to the error rate: failures sent as a total are "Other".
    assert '<th scope="col" class="num">Other</th>' in body


def test_languages_tabs_and_values(client, narrow):
    body = fragment(client, "section=languages&period=month")
    assert 'href="/?period=month&amp;lang=language"' in body
    assert "python" in body and "secret-lang" not in body
    natural = fragment(client, "section=languages&period=month&lang=language")
    assert "zh-hans" in natural and "python" not in natural


def test_by_tag_follows_the_chosen_key_and_ignores_unranked_ones(client, narrow):
    body = fragment(client, "section=tags&period=month&tag=task")
    assert "task-0" in body and ">other<" in body  # over the key's limit of three
    unranked = fragment(client, "section=tags&period=month&tag=team")  # falls back to the default
    assert "task-0" in unranked
    TagKey.objects.filter(key="task").update(ranked=False)
    assert "task-0" not in fragment(client, "section=tags&period=month&tag=task&metric=requests")


def test_context_length_section_lists_every_bucket(client, narrow):
    body = fragment(client, "section=context&period=month")
    for bucket in selectors.BUCKETS:
        assert escape(bucket.label) in body
    shares = selectors.context_shares(selectors.period_window("month"))
    assert all(f"{row.share * 100:.1f}%" in body for row in shares)


def test_cost_per_session_section_follows_the_metric_and_turn_tabs(client, narrow):
    window = selectors.period_window("month")
    body = fragment(client, "section=sessions&period=month&metric=cost")
    report = selectors.session_report(window, metric="cost", limit=12)
    assert usd(report.rows[0].all.median_cost) in body
    assert "secret-harness" not in body and "Secret" not in body
    tokens = fragment(client, "section=sessions&period=month")  # the page's default metric: tokens
    assert "Median tokens" in tokens
    long_ones = fragment(client, "section=sessions&period=month&metric=cost&turns=10%E2%80%9349")
    table = long_ones.split("<caption>Sessions by harness and model")[1].split("</table>")[0]
    rows = re.findall(r"<tr><th scope=\"row\">", table)
    assert len(rows) == len([g for g in report.rows if "10–49" in g.by_turns]) > 0


def test_model_page_adds_tool_calls_context_tags_and_sessions(client, narrow):
    model = LLMModel.objects.get(slug=MODELS[0])
    body = client.get(model.get_absolute_url() + "?period=month").content.decode()
    for section in NARROW:
        if section != "languages":
            assert f'id="{section}"' in body
    assert "Together" in body and "Languages and tags" in body
    assert "secret" not in body.lower()


def test_app_page_shows_its_sessions_and_tags_and_a_private_app_none(client, narrow):
    app = App.objects.get(origin=APPS[0][0])
    body = client.get(app.get_absolute_url() + "?period=month").content.decode()
    assert 'id="sessions"' in body and 'id="tags"' in body and "cline" in body
    private = App.objects.get(origin=APPS[2][0])
    assert client.get(private.get_absolute_url()).status_code == 404


def test_tag_values_and_harness_names_are_escaped_in_tables_and_charts(client, narrow):
    """Tag values and harness names are whatever gateways send: they reach tables, chart
    labels (Plotly renders HTML in them) and the charts' data tables escaped, never raw."""
    hostile = "<img src=x onerror=alert(1)>"
    import_events(
        EventFactory.build_batch(
            30,
            origin=APPS[0][0],
            app_name=APPS[0][1],
            tags={"programming_language": hostile},
            session_id="s-hostile",
            harness=hostile,
        )
    )
    for query in ("section=languages&period=month", "section=sessions&period=month"):
        body = fragment(client, query)
        assert hostile not in body
        assert escape(hostile) in body or escape(escape(hostile)) in body
