"""Tokenrank settings: the one place that reads the environment.

Every knob an operator may turn is read here, from environment variables (see
``.env.example`` and docs/operations.md), through django-environ; a value that does not
parse stops the start with an error naming its variable. With no ``DATABASE_URL`` /
``CELERY_BROKER_URL`` the URLs are those of the embedded PostgreSQL and Redis of
:mod:`config.embedded`: importing the settings starts nothing (the entry points do).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from config import embedded
from config.envvars import env, networks, time_zone

BASE_DIR = Path(__file__).resolve().parent.parent


# --- Environment --------------------------------------------------------------------------
ENVIRONMENT = env.str("DJANGO_ENV", default="development")
PRODUCTION = ENVIRONMENT == "production"
DATA_DIR = Path(env.str("TOKENRANK_DATA_DIR", default=str(BASE_DIR / "var"))).resolve()

_DEV_SECRET_KEY = "insecure-development-key-do-not-use-in-production"  # noqa: S105
# Published values that must never sign a production session: the development default and
# the placeholder of .env.example (tests check that every example value is refused).
_EXAMPLE_SECRET_KEYS = {
    _DEV_SECRET_KEY,
    "change-me-to-50-or-more-random-characters-for-production-use-only",
}
SECRET_KEY = env.str("SECRET_KEY", default=_DEV_SECRET_KEY)


def _weak_secret_key(key: str) -> str | None:
    """Why ``key`` must not be used in production, or None."""
    if key in _EXAMPLE_SECRET_KEYS or "change-me" in key.lower() or key.startswith("django-insecure"):
        return "it is an example value"
    if len(key) < 50 or len(set(key)) < 5:
        return "it is shorter than 50 characters or has fewer than 5 different ones"
    return None


if PRODUCTION and (_why := _weak_secret_key(SECRET_KEY)):
    raise ImproperlyConfigured(
        f"DJANGO_ENV=production refuses this SECRET_KEY: {_why}. Set it to 50+ random characters, "
        "e.g. python -c 'import secrets; print(secrets.token_urlsafe(50))'."
    )

DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=[] if PRODUCTION else ["127.0.0.1", "localhost", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- Services -----------------------------------------------------------------------------
DATABASE_URL = env.str("DATABASE_URL", default="")
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
# Production never falls back to the embedded servers: that would be a fresh, empty database
# under the data folder, with no error to tell.
_missing_services = [
    name
    for name, url in (("DATABASE_URL", DATABASE_URL), ("CELERY_BROKER_URL", CELERY_BROKER_URL))
    if not url
]
if PRODUCTION and _missing_services:
    raise ImproperlyConfigured(
        f"DJANGO_ENV=production needs {' and '.join(_missing_services)}: the embedded PostgreSQL and Redis "
        "are for development only. See docs/operations.md (env file) for the values."
    )
# Where the embedded servers listen; config.embedded.ensure_started() starts them.
EMBEDDED_POSTGRES = not DATABASE_URL
DATABASE_URL = DATABASE_URL or embedded.postgres_url(DATA_DIR)
EMBEDDED_REDIS = not CELERY_BROKER_URL
CELERY_BROKER_URL = CELERY_BROKER_URL or embedded.redis_url(DATA_DIR)


def _cache_url_beside(broker_url: str) -> str:
    """The broker's Redis server, database 1: the cache never shares keys with the queues."""
    if broker_url.startswith("redis+socket://"):
        return "unix://" + broker_url.removeprefix("redis+socket://").split("?")[0] + "?db=1"
    if broker_url.startswith(("redis://", "rediss://")):
        scheme, rest = broker_url.split("://", 1)
        return f"{scheme}://{rest.split('/')[0]}/1"
    return ""


REDIS_URL = env.str("REDIS_URL", default="") or _cache_url_beside(CELERY_BROKER_URL)

DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL, conn_max_age=env.int("DB_CONN_MAX_AGE", default=60), conn_health_checks=True
    )
}
# Fail fast instead of hanging when the database is gone (e.g. /healthz during an outage).
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = 3
DATABASE_REPLICA_URL = env.str("DATABASE_REPLICA_URL", default="")
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = dj_database_url.parse(DATABASE_REPLICA_URL, conn_max_age=60)
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    DATABASE_ROUTERS = ["config.db_router.ReplicaRouter"]

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="tokenrank"),
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery -------------------------------------------------------------------------------
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "ingest"
CELERY_TASK_ROUTES = {"ingest.tasks.maintenance_*": {"queue": "maintenance"}}
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # Unacknowledged messages come back after this long; the beat sweep is faster anyway.
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
    "socket_connect_timeout": 2,
    # A broker that accepts connections but stops answering (a hung Redis) must not hang
    # ingest or the health checks: the batch is safe in PostgreSQL and the sweep enqueues it.
    # Above the worker's 1 s BRPOP poll.
    "socket_timeout": 3,
    "max_retries": 1,
}
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "sweep-pending-batches": {
        "task": "ingest.tasks.maintenance_sweep_pending",
        "schedule": env.int("TOKENRANK_SWEEP_SECONDS", default=15),
    },
    "raw-event-partitions-and-retention": {
        "task": "ingest.tasks.maintenance_partitions",
        "schedule": 3600,
    },
}

# --- Tokenrank ----------------------------------------------------------------------------
TOKENRANK = {
    "INGEST_MAX_EVENTS": env.int("TOKENRANK_INGEST_MAX_EVENTS", default=10_000),
    "INGEST_MAX_BYTES": env.int("TOKENRANK_INGEST_MAX_BYTES", default=10 * 1024 * 1024),
    "INGEST_DEFAULT_RATE_LIMIT": env.int("TOKENRANK_INGEST_RATE_LIMIT", default=600),  # requests/min
    "RAW_RETENTION_DAYS": env.int("TOKENRANK_RAW_RETENTION_DAYS", default=90),
    "PARTITIONS_AHEAD_DAYS": env.int("TOKENRANK_PARTITIONS_AHEAD_DAYS", default=3),
    # A batch still pending after this many seconds is handed to a worker again.
    "SWEEP_AFTER_SECONDS": env.int("TOKENRANK_SWEEP_AFTER_SECONDS", default=30),
    "BATCH_MAX_ATTEMPTS": env.int("TOKENRANK_BATCH_MAX_ATTEMPTS", default=5),
    # Under a backlog a worker also takes other waiting batches, up to this many events in
    # one transaction (fewer rollup rows per event); 0 processes every batch alone.
    "BATCH_COALESCE_EVENTS": env.int("TOKENRANK_BATCH_COALESCE_EVENTS", default=40_000),
    "READY_MAX_LAG_SECONDS": env.int("TOKENRANK_READY_MAX_LAG_SECONDS", default=300),
    # Gateway receivers (OTLP traces, LiteLLM): decompressed body limit (the OTLP spec's
    # recommendation), and the pending-batch backlog past which OTLP answers 503 (retried).
    "RECEIVER_MAX_BYTES": env.int("TOKENRANK_RECEIVER_MAX_BYTES", default=64 * 1024 * 1024),
    "OTLP_MAX_PENDING_BATCHES": env.int("TOKENRANK_OTLP_MAX_PENDING_BATCHES", default=20_000),
    # /metrics is served to this bearer token, and outside production also to these networks
    # (in production a same-host proxy would make every request look local): production
    # without a token answers 404.
    "METRICS_TOKEN": env.str("METRICS_TOKEN", default=""),
    "METRICS_ALLOWED_NETWORKS": networks("METRICS_ALLOWED_NETWORKS", ["127.0.0.1/32", "::1/128"]),
    # Reverse proxies whose X-Forwarded-For is believed (config.network.client_address).
    "TRUSTED_PROXIES": networks("TOKENRANK_TRUSTED_PROXIES", []),
    # The reporting zone (IANA name): days, weeks (from Monday) and months of every bucket,
    # leaderboard and comparison; the date rollups are built in it (manage.py change_time_zone).
    "TIME_ZONE": time_zone("TOKENRANK_TIME_ZONE", "UTC"),
}

# --- Django -------------------------------------------------------------------------------
INSTALLED_APPS = [
    # The admin modules are imported by the URLconf (config/urls.py), not at start-up: a
    # Celery worker never loads them.
    "django.contrib.admin.apps.SimpleAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "axes",
    "rankings",
    "ingest",
]

CSRF_FAILURE_VIEW = "rankings.errors.csrf_failure"
MIDDLEWARE = [
    "config.logging.RequestIdMiddleware",
    "config.metrics.RequestMetricsMiddleware",
    "config.health.ProbeMiddleware",  # before anything that checks the Host header
    "rankings.errors.RefuseBadQueryMiddleware",
    "rankings.errors.SlugMovedMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.http.ConditionalGetMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "rankings.context_processors.zone",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "staticfiles"  # made by config.embedded.ensure_started()
STATICFILES_DIRS = [
    BASE_DIR / "static",
    # plotly.min.js straight from the plotly package: the version matches the figures built.
    ("plotly", Path(__import__("plotly").__file__).parent / "package_data"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Serve straight from the finders when collectstatic has not run (make run, tests).
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = DEBUG

# Content-Security-Policy: no inline scripts; figure data travels through json_script.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],  # Plotly sets inline styles on its SVG
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}

# --- Embeds and daily snapshots -----------------------------------------------------------
# Sites that may frame the /embed/ pages (CSP frame-ancestors; every other page denies
# framing): "*" = any, or a list of origins such as "https://wiki.example.com".
EMBED_FRAME_ANCESTORS = env.list("TOKENRANK_EMBED_FRAME_ANCESTORS", default=["*"])
# Daily snapshots of the rankings (rankings.snapshots), immutable once published.
EXPORTS_LICENSE = env.str("TOKENRANK_EXPORTS_LICENSE", default="")
EXPORTS_DELAY_MINUTES = env.int("TOKENRANK_EXPORTS_DELAY_MINUTES", default=60)  # after the UTC day closes
EXPORTS_BACKFILL_DAYS = env.int("TOKENRANK_EXPORTS_BACKFILL_DAYS", default=7)
STORAGES["exports"] = {
    "BACKEND": "django.core.files.storage.FileSystemStorage",
    "OPTIONS": {
        "location": env.str("TOKENRANK_EXPORTS_DIR", default=str(DATA_DIR / "exports")),
        "file_permissions_mode": 0o444,  # published files are never rewritten
    },
}
CELERY_BEAT_SCHEDULE["daily-snapshots"] = {
    "task": "rankings.tasks.maintenance_snapshots",
    "schedule": 900,  # a closed day is published within 15 minutes of its delay
    "options": {"queue": "maintenance"},
}

# --- Security (production) ----------------------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Plain HTTP in production (a private network without TLS, on purpose): no HTTPS redirect, no
# Secure-only cookies (the admin login would get 403), no HSTS; `check --deploy` says so.
PLAIN_HTTP = env.bool("TOKENRANK_PLAIN_HTTP", default=False)
if PRODUCTION:
    SECURE_SSL_REDIRECT = not PLAIN_HTTP and env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    SESSION_COOKIE_SECURE = not PLAIN_HTTP
    CSRF_COOKIE_SECURE = not PLAIN_HTTP
    SECURE_HSTS_SECONDS = 0 if PLAIN_HTTP else env.int("SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = not PLAIN_HTTP
    SECURE_HSTS_PRELOAD = not PLAIN_HTTP

# --- Admin login throttling (django-axes) ---------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses a locked-out client before the password check
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("TOKENRANK_ADMIN_LOGIN_FAILURES", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("TOKENRANK_ADMIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["ip_address"]  # per client: nobody can lock an account out from afar
AXES_CLIENT_IP_CALLABLE = "config.network.client_address"  # behind trusted proxies only
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "admin/lockout.html"
AXES_VERBOSE = False  # no banner on every start; lockouts are still logged

# --- REST API -----------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "config.api_errors.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("TOKENRANK_API_ANON_RATE", default="120/minute"),
        "key": env.str("TOKENRANK_API_KEY_RATE", default="1200/minute"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Tokenrank API",
    "DESCRIPTION": "LLM token-usage rankings, series and ingest. Windows are [start, end), answered with UTC offsets, in the zone `tz` asks for (default: the site's reporting zone).",
    "VERSION": "1.0.0",
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.api_errors.add_error_responses",
        "config.api_schema.add_security",
    ],
}

# --- make run (manage.py serve) -------------------------------------------------------------
SERVE = {
    "HOST": env.str("HOST", default="127.0.0.1"),
    "PORT": env.int("PORT", default=8000),
    "WEB_CONCURRENCY": env.int("WEB_CONCURRENCY", default=2),  # gunicorn workers
    "CELERY_CONCURRENCY": env.int("CELERY_CONCURRENCY", default=2),  # worker processes
}

# --- Logging ------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "readable": {
            "()": "config.logging.ReadableFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s",
        },
        "json": {"()": "config.logging.JsonFormatter"},
    },
    "filters": {"request_id": {"()": "config.logging.RequestIdFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id"],
            "formatter": "json" if env.bool("LOG_JSON", default=PRODUCTION) else "readable",
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "axes": {"level": "WARNING"},  # lockouts (warnings) only, not every login
    },
}
