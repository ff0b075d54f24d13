"""Real exports load as they are: OpenRouter's activity CSV saved by a spreadsheet (BOM, CRLF),
app names without URLs, dated permaslugs; errors in the file's own terms; exit codes."""

from __future__ import annotations

import gzip
import io

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Sum

from ingest import maintenance
from ingest.imports import ExportFile, Progress
from ingest.models import UsageDaily
from ingest.services import import_events
from rankings.models import App, AppOrigin, LLMModel
from tests.factories import EventFactory, activity_row, write_activity_export

pytestmark = pytest.mark.django_db(transaction=True)


def tokens_of(**filters) -> int:
    totals = UsageDaily.objects.filter(**filters).aggregate(
        p=Sum("prompt_tokens"), c=Sum("completion_tokens")
    )
    return (totals["p"] or 0) + (totals["c"] or 0)


def test_excel_export_with_app_names_and_dated_slugs_loads_as_it_is(tmp_path):
    # Live traffic already knows Cline by its URL; Roo Code has two URL apps of that title.
    import_events([EventFactory.build(origin="https://cline.bot/", app_name="Cline")])
    for origin in ("https://roo.example", "https://roocode.example"):
        import_events([EventFactory.build(origin=origin, app_name="Roo Code")])
    before_cline = tokens_of(app__origin="https://cline.bot")
    rows = [
        activity_row(1, app_name="Cline", model_permaslug="openai/gpt-4o-mini-2024-07-18"),
        activity_row(2, app_name="  cline ", model_permaslug="anthropic/claude-4-sonnet-20250522"),
        activity_row(3, app_name="Roo Code"),
        activity_row(4, app_name="My Notebook", model_permaslug="newlab/thinker-20250101"),
        activity_row(5, app_name="My Notebook", model_permaslug="newlab/thinker-2025-01-01"),
        activity_row(6, app_name=""),
    ]
    path = write_activity_export(tmp_path / "activity.csv", rows)
    call_command("import_events", path, "--quiet")

    # An app name with no URL is its app: Cline's URL app (the only one of that title)...
    cline = App.objects.get(origin="https://cline.bot")
    assert tokens_of(app=cline) == before_cline + 2 * 1200
    assert AppOrigin.objects.get(origin="title:cline").app == cline
    # ...a title of several URL apps, or of none, gets an app of its own, never "(unattributed)".
    roo = App.objects.get(origin="title:roo code")
    assert roo.name == "Roo Code" and roo.url == "" and tokens_of(app=roo) == 1200
    notebook = App.objects.get(origin="title:my notebook")
    assert notebook.slug == "my-notebook" and tokens_of(app=notebook) == 2 * 1200
    assert tokens_of(app__slug=App.UNATTRIBUTED_SLUG) == 1200

    # Dated permaslugs count under their canonical model, with the alias recorded.
    mini = LLMModel.objects.get(slug="openai/gpt-4o-mini")
    assert tokens_of(model=mini) == 1200 and mini.permaslug == "openai/gpt-4o-mini-2024-07-18"
    assert tokens_of(model__slug="anthropic/claude-sonnet-4") >= 1200
    assert not LLMModel.objects.filter(slug__contains="2024-07-18").exists()
    thinker = LLMModel.objects.get(slug="newlab/thinker")
    assert tokens_of(model=thinker) == 2 * 1200 and thinker.needs_review
    assert set(thinker.aliases.values_list("slug", flat=True)) == {
        "newlab/thinker-20250101",
        "newlab/thinker-2025-01-01",
    }
    # Four-digit suffixes are model names, not dates.
    assert LLMModel.objects.filter(slug="deepseek/deepseek-r1-0528").exists()
    # time_to_first_token_ms is OpenRouter's latency.
    assert UsageDaily.objects.filter(model=mini).get().latency_ms_sum == 350

    # A re-import finds only duplicates, and the numbers still check out.
    out = io.StringIO()
    call_command("import_events", path, "--quiet", stdout=out)
    assert "0 imported, 6 duplicates, 0 rejected" in out.getvalue()
    assert maintenance.verify_rollups()[1] == []


def test_gzipped_export_without_bom_loads_too(tmp_path):
    path = write_activity_export(
        tmp_path / "activity.csv.gz", [activity_row(1, app_name="Zipped")], bom=False, gz=True
    )
    call_command("import_events", path, "--quiet")
    assert tokens_of(app__name="Zipped") == 1200


def test_rejections_name_the_csv_line_and_the_exports_column_and_exit_3(tmp_path):
    rows = [
        activity_row(1),
        activity_row(2, finish_reason_raw="a reason\r\nover two lines"),  # one row, lines 3-4
        activity_row(3, tokens_prompt="lots"),  # line 5
        activity_row(4, generation_id=""),  # line 6
        activity_row(5, tokens_reasoning="900"),  # more reasoning than completion: line 7
    ]
    path = write_activity_export(tmp_path / "activity.csv", rows)
    err = io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("import_events", path, "--quiet", stderr=err)
    assert raised.value.returncode == 3
    report = err.getvalue()
    assert "line 5 (generation_id gen-export-3): tokens_prompt: must be a whole number" in report
    assert "line 6: generation_id: is required" in report
    assert "line 7 (generation_id gen-export-5): tokens_reasoning:" in report
    assert " id:" not in report and "native_tokens" not in report and "event 2" not in report
    assert UsageDaily.objects.aggregate(n=Sum("requests"))["n"] == 2  # the valid rows are in

    # A cron job may accept partial files: same report, exit 0.
    err = io.StringIO()
    call_command("import_events", path, "--quiet", "--allow-rejects", stderr=err)
    assert "line 5" in err.getvalue()


def export_with_stray_quotes(tmp_path, rows: int, quotes: dict[int, str]) -> str:
    """An export of ``rows`` rows in which line ``n`` of ``quotes`` gets a quote: "open" at the
    start of its second cell, "close" in the middle of its second cell."""
    path = tmp_path / "activity.csv"
    write_activity_export(path, [activity_row(n) for n in range(1, rows + 1)])
    lines = path.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    for line, kind in quotes.items():
        first, rest = lines[line - 1].split(",", 1)
        lines[line - 1] = f'{first},"{rest}' if kind == "open" else f'{first},{rest[:3]}"{rest[3:]}'
    path.write_text("".join(lines), encoding="utf-8")
    return str(path)


def imported_requests() -> int:
    return UsageDaily.objects.aggregate(n=Sum("requests"))["n"] or 0


@pytest.mark.parametrize(
    ("rows", "quotes", "said", "counted"),
    [
        # Never closed: it takes the lines to the end of the file.
        (4, {3: "open"}, "line 3: a quote opens the 'created_at' cell and is not closed where the cell ends: lines 3-5 were read", 1),
        # In the last row: the rest of its line.
        (4, {5: "open"}, "line 5: a quote opens the 'created_at' cell and is not closed where the cell ends: the rest of the line was read", 3),
        # Closed by another stray quote a line later: both rows are one cell; the rows after count.
        (6, {3: "open", 4: "close"}, "line 3: a quote opens the 'created_at' cell and is not closed where the cell ends: lines 3-4 were read", 4),
    ],
)
def test_a_stray_quote_is_named_and_the_lines_it_took_are_not_printed(tmp_path, rows, quotes, said, counted):
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_events", export_with_stray_quotes(tmp_path, rows, quotes), "--quiet", stderr=err)
    report = err.getvalue()
    assert said in report and "Fix the quote and import the file again" in report
    assert "gen-export-4" not in report  # the lines it took are not printed as a value
    assert imported_requests() == counted


def test_a_quote_never_closed_in_a_long_file_keeps_every_row_before_it(tmp_path):
    """Its cell passes the reader's limit (131,072 characters) before the file ends."""
    err = io.StringIO()
    path = export_with_stray_quotes(tmp_path, 1_300, {302: "open"})
    with pytest.raises(CommandError):
        call_command("import_events", path, "--quiet", stderr=err)
    assert "line 302: a quote opens the 'created_at' cell and is not closed" in err.getvalue()
    assert "the rest of the file was not read" in err.getvalue()
    assert imported_requests() == 300


def test_failure_exits_1_whatever_allow_rejects_says(tmp_path):
    nothing_valid = write_activity_export(tmp_path / "bad.csv", [activity_row(1, model_permaslug="no slash")])
    not_utf8 = tmp_path / "latin1.csv"
    not_utf8.write_bytes("generation_id,app_name\r\ng1,Caf\xe9\r\n".encode("latin-1"))
    (tmp_path / "notes.txt").write_text("generation_id\n")
    truncated = tmp_path / "cut.csv.gz"
    truncated.write_bytes(gzip.compress(b"generation_id\r\n" + b"g\r\n" * 1000)[:-20])
    (tmp_path / "empty.jsonl").write_text("\n\n")
    header_only = write_activity_export(tmp_path / "header.csv", [])
    for path, message in (
        (nothing_valid, "no valid row"),
        (str(tmp_path / "empty.jsonl"), "no rows; is it the right file?"),
        (header_only, "no rows; is it the right file?"),
        (str(not_utf8), "not UTF-8"),
        (str(truncated), "cannot be read"),
        (str(tmp_path / "missing.csv"), "no such file"),
        (str(tmp_path / "notes.txt"), "unknown format"),
    ):
        err = io.StringIO()
        with pytest.raises(CommandError) as raised:
            call_command("import_events", path, "--quiet", "--allow-rejects", stderr=err)
        assert raised.value.returncode == 1, path
        assert message in err.getvalue() + str(raised.value), path
    # A failed file among others: the others, before and after it, are imported, and it says so.
    good = write_activity_export(tmp_path / "good.csv", [activity_row(1)])
    with pytest.raises(CommandError, match="the other files were imported"):
        call_command("import_events", str(tmp_path / "empty.jsonl"), good, "--quiet", stdout=io.StringIO())
    assert UsageDaily.objects.aggregate(n=Sum("requests"))["n"] == 1


def test_ndjson_lines_are_reported_by_line_number(tmp_path):
    path = tmp_path / "events.ndjson"
    good = EventFactory.build()
    import json

    path.write_text(
        "\ufeff"
        + json.dumps(good)
        + "\r\n\r\n{broken\r\n"
        + json.dumps({**good, "id": "x2", "latency": -1})
        + "\r\n"
    )
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_events", str(path), "--quiet", stderr=err)
    assert "line 3: invalid JSON" in err.getvalue()
    assert "line 4 (id x2): latency: must not be negative" in err.getvalue()
    assert UsageDaily.objects.get().requests == 1


def test_progress_bar_shows_rows_per_second_and_an_eta(tmp_path):
    path = write_activity_export(tmp_path / "activity.csv", [activity_row(n) for n in range(50)])
    stream = io.StringIO()
    source = ExportFile(tmp_path / "activity.csv")
    progress = Progress(source, enabled=True, stream=stream)
    import_events(source.items(), chunk_size=10, progress=progress)
    progress.close()
    shown = stream.getvalue()
    assert "50 rows" in shown and "rows/s" in shown and "ETA" in shown and "100%" in shown
    assert path


def test_a_file_unreadable_part_way_imports_every_chunk_read_before_and_says_how_many(tmp_path):
    import json

    events = EventFactory.build_batch(95)
    whole = gzip.compress("".join(json.dumps(e) + "\n" for e in events).encode())
    path = tmp_path / "cut.ndjson.gz"
    path.write_bytes(whole[: len(whole) - 40])  # the end of the stream is lost
    err = io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("import_events", str(path), "--quiet", "--chunk-size", "20", stderr=err)
    assert raised.value.returncode == 1
    imported = UsageDaily.objects.aggregate(n=Sum("requests"))["n"]
    assert imported and imported % 20 == 0 and imported >= 60  # every whole chunk read was written
    message = err.getvalue()
    assert f"the {imported:,} rows read before it are imported" in message
    assert message.count(str(path)) == 1, message


def test_an_interrupted_import_says_so_in_a_line_and_exits_130(tmp_path, monkeypatch):
    from ingest.management.commands import import_events as command

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(command, "import_events", interrupted)
    path = write_activity_export(tmp_path / "activity.csv", [activity_row(1)])
    err = io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("import_events", str(path), "--quiet", stderr=err)
    assert raised.value.returncode == 130
    assert "interrupted; chunks written before it are kept" in err.getvalue() and "Traceback" not in err.getvalue()
