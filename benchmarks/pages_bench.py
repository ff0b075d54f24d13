"""The page benchmarks: server time of pages and API reads over rollups at OpenRouter-like
cardinality, /models/ search, and the weekly leaderboard from rollups against raw events."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from benchmarks import narrow
from benchmarks.common import rate, report, reset_usage, timed


def bench_clock(at: datetime | None = None) -> datetime:
    """The page benchmark's fixed clock: the last Wednesday at 14:40 UTC (a weekday that is not
    a Monday, mid-afternoon: this week so far is 2.6 days, today 14.7 hours)."""
    at = at or datetime.now(UTC)
    wednesday = at - timedelta(days=(at.weekday() - 2) % 7)
    clock = wednesday.replace(hour=14, minute=40, second=0, microsecond=0)
    return clock if clock <= at else clock - timedelta(days=7)


def build_openrouter_rollups(clock: datetime, days: int = 365) -> tuple[int, int]:
    """OpenRouter-like cardinality straight into the rollup tables (SQL generate_series):
    400 models by 60 authors, 60 providers, 5,000 apps, 12 categories, ``days`` of days and
    of quarter-hours (the quarter-hour cube is kept forever too) up to ``clock``."""
    from django.db import connection

    from ingest import schema
    from ingest.rollups.grains import GRAINS, NARROW
    from ingest.rollups.maintain import from_full_cube
    from rankings.models import App, AppOrigin, Author, LLMModel, Provider

    Author.objects.bulk_create(
        [Author(slug=f"bench-author-{i}", name=f"Author {i}") for i in range(60)], ignore_conflicts=True
    )
    authors = list(Author.objects.filter(slug__startswith="bench-author-").values_list("pk", flat=True))
    LLMModel.objects.bulk_create(
        [
            LLMModel(slug=f"bench-author-{i % 60}/model-{i}", name=f"Model {i}", author_id=authors[i % 60])
            for i in range(400)
        ],
        ignore_conflicts=True,
    )
    Provider.objects.bulk_create(
        [Provider(slug=f"bench-provider-{i}", name=f"Provider {i}") for i in range(60)], ignore_conflicts=True
    )
    App.objects.bulk_create(
        [
            App(slug=f"bench-app-{i}", name=f"App {i}", origin=f"https://bench-{i}.example")
            for i in range(5000)
        ],
        ignore_conflicts=True,
    )
    AppOrigin.objects.bulk_create(
        [AppOrigin(origin=a.origin, app=a) for a in App.objects.filter(slug__startswith="bench-app-")],
        ignore_conflicts=True,
    )
    measures = ", ".join(m.column for m in schema.MEASURES)
    values = ", ".join(f"{narrow.GENERATED.get(m.column, '0')} AS {m.column}" for m in schema.MEASURES)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT array_agg(id ORDER BY id) FROM rankings_llmmodel WHERE slug LIKE 'bench-author-%%'"
        )
        models = cursor.fetchone()[0]
        cursor.execute("SELECT array_agg(id ORDER BY id) FROM rankings_app WHERE slug LIKE 'bench-app-%%'")
        apps = cursor.fetchone()[0]
        cursor.execute(
            "SELECT array_agg(id ORDER BY id) FROM rankings_provider WHERE slug LIKE 'bench-provider-%%'"
        )
        providers = cursor.fetchone()[0]
        cursor.execute("SELECT array_agg(id ORDER BY position) FROM rankings_category")
        categories = cursor.fetchone()[0][:12]
        # ~26k rows per day: popular models and apps appear more often (power-law picks); an
        # app keeps one category; most traffic is the standard variant.
        common = (
            "SELECT DISTINCT ON (1, 2, 3, 4, 5, 6) {bucket} AS bucket, "
            "(%(models)s::bigint[])[1 + floor(400 * power(random(), 2.2))::int] AS model_id, "
            "CASE WHEN random() < 0.85 THEN '' ELSE "
            "(ARRAY['free', 'nitro', 'floor', 'thinking'])[1 + floor(4 * random())::int] END AS variant, "
            "(%(providers)s::bigint[])[1 + floor(60 * power(random(), 1.5))::int] AS provider_id, "
            "(%(apps)s::bigint[])[pick.app] AS app_id, "
            "(%(categories)s::bigint[])[1 + pick.app %% 12] AS category_id, "
            + values
            + " FROM {series} AS s(b), generate_series(1, {per}) AS g "
            # g in the lateral makes PostgreSQL draw a new app for every row.
            "CROSS JOIN LATERAL (SELECT 1 + floor(5000 * power(random() + 0 * g, 2.5))::int AS app) AS pick "
            "ORDER BY 1, 2, 3, 4, 5, 6"
        )
        params = {"models": models, "providers": providers, "apps": apps, "categories": categories}

        def insert(table: str, bucket: str, per: int, series: str) -> None:
            """About ``per`` rows of the cube ``table`` per bucket of ``series``."""
            columns = f"bucket, model_id, variant, provider_id, app_id, category_id, {measures}"
            query = common.format(bucket=bucket, per=per, series=series)
            cursor.execute(f"INSERT INTO {table} ({columns}) " + query, params)

        today = clock.date()
        for offset in range(0, days, 30):
            first = today - timedelta(days=min(days, offset + 30) - 1)
            last = today - timedelta(days=offset)
            days_series = f"generate_series('{first}'::date, '{last}'::date, '1 day')"
            insert("rankings_usagedaily", "s.b::date", 27_000, days_series)
        end = clock.replace(minute=clock.minute // 15 * 15, second=0, microsecond=0) + timedelta(minutes=15)
        for offset in range(0, days * 24, 24 * 5):  # 300 rows per quarter-hour: the hourly cube's 1,200 an hour
            first = end - timedelta(hours=min(days * 24, offset + 24 * 5))
            last = end - timedelta(hours=offset, minutes=15)
            quarters = f"generate_series('{first.isoformat()}'::timestamptz, '{last.isoformat()}'::timestamptz, '15 minutes')"
            insert("rankings_usagequarterhour", "s.b", 300, quarters)
        for grain in _from_cube():  # the narrower and weekly tables, from the daily cube
            cursor.execute(from_full_cube(grain))
        # Settled tables, as in a running install: measuring while autovacuum works through
        # 10M fresh rows gave a p95 20 ms higher.
        for grain in GRAINS:
            if grain not in NARROW:
                cursor.execute(f"VACUUM ANALYZE {grain.table}")
    # The narrow rollups (tool calls, context length, tags, sessions) the home page reads too.
    for table, count in narrow.build_narrow_rollups(days).items():
        report(f"  {table} rows", f"{count:,}")
    return rollup_counts()


def _from_cube() -> list:
    """The grains the page dataset sums from the daily cube: all but the cube and the narrow
    rollups."""
    from ingest.rollups.grains import DAILY, GRAINS, NARROW, QUARTERLY

    return [g for g in GRAINS if g not in (DAILY, QUARTERLY, *NARROW)]


def fill_new_grains() -> None:
    """Grains declared since the kept dataset was built: summed from the daily cube when
    empty, and settled (VACUUM ANALYZE, as the build does) when never vacuumed (a migration
    filled them), so that a ``--keep-data`` run measures their reads as a fresh build would."""
    from django.db import connection

    from ingest.rollups.maintain import from_full_cube

    with connection.cursor() as cursor:
        for grain in _from_cube():
            started = time.monotonic()
            cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {grain.table})")
            filled = not cursor.fetchone()[0]
            if filled:
                cursor.execute(from_full_cube(grain))
                report(f"  {grain.table} filled from the daily cube", f"{time.monotonic() - started:.0f} s")
            cursor.execute(
                "SELECT last_vacuum IS NULL AND last_autovacuum IS NULL FROM pg_stat_user_tables WHERE relname = %s",
                [grain.table],
            )
            if cursor.fetchone()[0] or filled:
                cursor.execute(f"VACUUM ANALYZE {grain.table}")
                report(f"  {grain.table} settled (VACUUM ANALYZE)", f"{time.monotonic() - started:.0f} s")


def rollup_counts() -> tuple[int, int]:
    """(rows in the full cube, daily + quarter-hour; rows in the model-level daily table)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM rankings_usagedaily) + (SELECT count(*) FROM rankings_usagequarterhour), "
            "(SELECT count(*) FROM rankings_usagemodeldaily)"
        )
        return cursor.fetchone()


def _has_raw_week() -> bool:
    """True when the rollups hold the leaderboard run's raw week, not the page dataset."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM ingest_rawevent WHERE id LIKE 'raw-%%')")
        return cursor.fetchone()[0]


def bench_pages(runs: int, keep: bool = False, days: int = 365) -> None:
    from django.conf import settings
    from django.core.cache import cache
    from django.test import Client

    from ingest.maintenance import change_time_zone
    from ingest.rollups import windows, zones
    from rankings.models import LLMModel

    clock = bench_clock()
    print(f"\nPages (OpenRouter-like cardinality, {days} days); clock fixed at {clock:%A %Y-%m-%d %H:%M} UTC", flush=True)
    windows.now = lambda: clock  # every period, window and partial bucket reads this clock
    started = time.monotonic()
    if keep and not _has_raw_week():
        if zones.built_zone(fresh=True) != "UTC":  # the last run ended in Kolkata
            change_time_zone("UTC")
        fill_new_grains()
        rows, model_daily = rollup_counts()
        report("rollup rows (daily + quarter-hour cube), kept from the last run", f"{rows:,}")
    else:
        reset_usage()
        if zones.built_zone(fresh=True) != "UTC":
            change_time_zone("UTC")  # empty tables: only the calendar changes
        rows, model_daily = build_openrouter_rollups(clock, days)
        report("rollup rows built (daily + quarter-hour cube)", f"{rows:,} in {time.monotonic() - started:.0f} s")
    report("  model-level daily rows", f"{model_daily:,}")
    client = Client()
    model = LLMModel.objects.filter(slug__startswith="bench-author-").order_by("pk").first()
    # Another zone than the date rollups': every day the weekly chart and leaderboard cannot take
    # whole (two per week) from the quarter-hour cube.
    _bench_urls(client, runs, (("home / with ?tz=Asia/Kolkata (rollups in UTC)", "/?tz=Asia/Kolkata"),))
    pages = (
        ("home /", "/"),
        # What a visitor who scrolls to the bottom waits for in all: every section at once.
        ("home, every section (/?sections=all)", "/?sections=all"),
        ("home, slowest section (cost per session)", "/?section=sessions"),
        ("model page", model.get_absolute_url()),
    )
    _bench_urls(client, runs, pages)
    # The growth report (its seven drivers included) for the default rolling 7 x 24 hours.
    assert client.get("/api/v1/growth").status_code == 200
    growth = timed(lambda: (cache.clear(), client.get("/api/v1/growth")), runs)
    report("/api/v1/growth uncached p50 / p95 (goal p95 <= 300 ms)", f"{growth[0]:.0f} ms / {growth[1]:.0f} ms")
    bench_models_search(client, runs)
    # An operator in India: TOKENRANK_TIME_ZONE=Asia/Kolkata and the date rollups rebuilt in it.
    started = time.monotonic()
    change_time_zone("Asia/Kolkata")
    report("change_time_zone Asia/Kolkata (date rollups from the quarter-hour cube)", f"{time.monotonic() - started:.0f} s")
    narrow.build_narrow_rollups(days)  # rezoning rebuilds them from raw events, which this dataset has none of
    settings.TOKENRANK = {**settings.TOKENRANK, "TIME_ZONE": "Asia/Kolkata"}
    _bench_urls(client, runs, (("home / in Asia/Kolkata (rollups in Asia/Kolkata)", "/"),))


def _bench_urls(client, runs: int, pages) -> None:
    """p50 / p95 of each page uncached (cache cleared before each request) and cached."""
    from django.core.cache import cache

    for name, url in pages:
        assert client.get(url).status_code == 200
        uncached = timed(lambda u=url: (cache.clear(), client.get(u)), runs)
        cached = timed(lambda u=url: client.get(u), runs * 3)
        report(f"{name} uncached p50 / p95", f"{uncached[0]:.0f} ms / {uncached[1]:.0f} ms")
        report(f"{name} cached   p50 / p95", f"{cached[0]:.1f} ms / {cached[1]:.1f} ms")


def bench_models_search(client, runs: int) -> None:
    """/models/ as the search box asks for it (the htmx results fragment), each request a
    different query: entries cached as in steady use; then the cost of a new rollup
    generation (entries rebuilt, the 10-minute facts kept) and of a cold cache."""
    from django.core.cache import cache

    from rankings.cache import bump_generation, generation

    queries = iter(f"{word} {n}" for n in range(10_000) for word in ("model", "author", "mod"))

    def search() -> None:
        response = client.get(
            "/models/", {"q": next(queries)}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="index-results"
        )
        assert response.status_code == 200

    client.get("/models/")  # entries built once, as by the first visitor of a generation
    warm = timed(search, runs * 3)
    report("/models/ search p50 / p95 (a new query each time)", f"{warm[0]:.1f} ms / {warm[1]:.1f} ms")

    def new_generation() -> None:
        bump_generation()
        time.sleep(2.1)  # rankings.cache starts at most one generation per 2 s
        generation()

    samples = []
    for _ in range(max(3, runs // 4)):
        new_generation()
        started = time.perf_counter()
        search()
        samples.append((time.perf_counter() - started) * 1000)
    report("/models/ search after a new rollup generation (max)", f"{max(samples):.0f} ms")
    cold = timed(lambda: (cache.clear(), search()), max(3, runs // 4))
    report("/models/ search, cold cache p50 / p95", f"{cold[0]:.0f} ms / {cold[1]:.0f} ms")


def bench_leaderboard(raw_events: int, keep: bool = False) -> None:
    from django.db import connection

    from ingest.maintenance import rebuild_rollups

    print(f"\nWeekly leaderboard: rollups vs {raw_events:,} raw events", flush=True)
    today = datetime.now(UTC).date()
    days = [today - timedelta(days=d) for d in range(7)]
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM ingest_rawevent WHERE id LIKE 'raw-%%'")
        kept = cursor.fetchone()[0] == raw_events
    if keep and kept:
        report("raw events and their rollups", "kept from the last run")
    else:
        _generate_raw_week(raw_events, days)
        started = time.monotonic()
        rebuild_rollups(days[-1], today)
        report("rebuild_rollups for the week", rate(raw_events, time.monotonic() - started))
    _compare_leaderboards()


def _generate_raw_week(raw_events: int, days: list) -> None:
    from django.db import connection

    from ingest import partitions

    reset_usage()
    partitions.ensure_partitions(days)
    with connection.cursor() as cursor:
        cursor.execute("SELECT array_agg(id) FROM rankings_llmmodel")
        models = cursor.fetchone()[0]
        cursor.execute("SELECT array_agg(id) FROM rankings_app")
        apps = cursor.fetchone()[0]
        cursor.execute("SELECT array_agg(id) FROM rankings_provider")
        providers = cursor.fetchone()[0]
        cursor.execute("SELECT array_agg(id) FROM rankings_category")
        categories = cursor.fetchone()[0]
        started = time.monotonic()
        per_chunk = 1_000_000
        for chunk in range(0, raw_events, per_chunk):
            size = min(per_chunk, raw_events - chunk)
            cursor.execute(
                "INSERT INTO ingest_rawevent (id, created_at, batch_id, model_id, variant, provider_id, app_id, "
                "category_id, origin, prompt_tokens, completion_tokens, reasoning_tokens, cached_tokens, cost, "
                "latency_ms, generation_ms, cancelled, streamed, finish_reason, is_byok) "
                "SELECT 'raw-' || (%(chunk)s + g), %(start)s::timestamptz + random() * interval '6 days 23 hours', NULL, "
                "(%(models)s::bigint[])[1 + floor(cardinality(%(models)s::bigint[]) * power(random(), 2))::int], '', "
                "(%(providers)s::bigint[])[1 + floor(cardinality(%(providers)s::bigint[]) * random())::int], "
                "(%(apps)s::bigint[])[1 + floor(cardinality(%(apps)s::bigint[]) * power(random(), 2))::int], "
                "(%(categories)s::bigint[])[1 + floor(cardinality(%(categories)s::bigint[]) * random())::int], '', "
                "(random() * 20000)::bigint, (random() * 2000)::bigint, 0, 0, (random() / 100)::numeric(24, 10), "
                "(random() * 2000)::int, (random() * 10000)::int, false, true, 'stop', false "
                "FROM generate_series(1, %(size)s) AS g",
                {
                    "chunk": chunk,
                    "size": size,
                    "start": datetime(days[-1].year, days[-1].month, days[-1].day, tzinfo=UTC),
                    "models": models,
                    "providers": providers,
                    "apps": apps,
                    "categories": categories,
                },
            )
        cursor.execute("ANALYZE ingest_rawevent")
        drawn_from = f"{len(models)} models, {len(apps)} apps, {len(providers)} providers, {len(categories)} categories"
        report("raw events generated", f"{raw_events:,} ({drawn_from}) in {time.monotonic() - started:.0f} s")


def _compare_leaderboards() -> None:
    from ingest.rollups.maintain import raw_model_tokens
    from rankings import selectors

    window = selectors.period_window("week")
    rollup_ms = timed(lambda: selectors.ranking("model", window, limit=20, compare=False), 20)
    from_rollups = {r.key: r.value for r in selectors.ranking("model", window, limit=20, compare=False).rows}

    def raw_leaderboard():
        return raw_model_tokens(window.start, window.end, limit=20)

    raw_ms = timed(raw_leaderboard, 3)
    same = raw_leaderboard() == from_rollups
    report("weekly leaderboard from rollups p50", f"{rollup_ms[0]:.1f} ms")
    report("weekly leaderboard from raw events p50", f"{raw_ms[0]:.0f} ms")
    report("speed-up; identical numbers", f"{raw_ms[0] / rollup_ms[0]:,.0f}x; {same}")
