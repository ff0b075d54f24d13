"""Tokenrank settings: the one place that reads the environment.

Every knob an operator may turn is read here, from environment variables (see
``.env.example`` and docs/operations.md). With no ``DATABASE_URL`` / ``CELERY_BROKER_URL``
the embedded PostgreSQL and Redis of :mod:`config.embedded` are started or reused.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def _env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _env_networks(name: str, default: str) -> tuple:
    """A comma list of IP networks (or single addresses); a bad entry stops the start."""
    from config.network import parse_networks

    try:
        return parse_networks(_env_list(name, default))
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}: {exc}.") from exc


# --- Environment --------------------------------------------------------------------------
ENVIRONMENT = os.environ.get("DJANGO_ENV", "development")
PRODUCTION = ENVIRONMENT == "production"
DATA_DIR = Path(os.environ.get("TOKENRANK_DATA_DIR", BASE_DIR / "var")).resolve()

_DEV_SECRET_KEY = "insecure-development-key-do-not-use-in-production"  # noqa: S105
# Published values that must never sign a production session: the development default and
# the placeholder of .env.example (tests check that every example value is refused).
_EXAMPLE_SECRET_KEYS = {
    _DEV_SECRET_KEY,
    "change-me-to-50-or-more-random-characters-for-production-use-only",
}
SECRET_KEY = os.environ.get("SECRET_KEY", _DEV_SECRET_KEY)


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

DEBUG = _env_bool("DEBUG", False)
ALLOWED_HOSTS = _env_list("ALLOWED_HOSTS", "" if PRODUCTION else "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = _env_list("CSRF_TRUSTED_ORIGINS", "")

# --- Services -----------------------------------------------------------------------------
# Production never falls back to the embedded servers: that would be a fresh, empty database
# under the data folder, with no error to tell.
_missing_services = [name for name in ("DATABASE_URL", "CELERY_BROKER_URL") if not os.environ.get(name)]
if PRODUCTION and _missing_services:
    raise ImproperlyConfigured(
        f"DJANGO_ENV=production needs {' and '.join(_missing_services)}: the embedded PostgreSQL and Redis "
        "are for development only. See docs/operations.md (env file) for the values."
    )

DATABASE_URL = os.environ.get("DATABASE_URL", "")
EMBEDDED_POSTGRES = not DATABASE_URL
if EMBEDDED_POSTGRES:
    from config.embedded import postgres_url

    DATABASE_URL = postgres_url(DATA_DIR)

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
EMBEDDED_REDIS = not CELERY_BROKER_URL
if EMBEDDED_REDIS:
    from config.embedded import redis_url

    CELERY_BROKER_URL = redis_url(DATA_DIR)


def _cache_url_beside(broker_url: str) -> str:
    """The broker's Redis server, database 1: the cache never shares keys with the queues."""
    if broker_url.startswith("redis+socket://"):
        return "unix://" + broker_url.removeprefix("redis+socket://").split("?")[0] + "?db=1"
    if broker_url.startswith(("redis://", "rediss://")):
        scheme, rest = broker_url.split("://", 1)
        return f"{scheme}://{rest.split('/')[0]}/1"
    return ""


REDIS_URL = os.environ.get("REDIS_URL", "") or _cache_url_beside(CELERY_BROKER_URL)

DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL, conn_max_age=_env_int("DB_CONN_MAX_AGE", 60), conn_health_checks=True
    )
}
# Fail fast instead of hanging when the database is gone (e.g. /healthz during an outage).
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = 3
DATABASE_REPLICA_URL = os.environ.get("DATABASE_REPLICA_URL", "")
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = dj_database_url.parse(DATABASE_REPLICA_URL, conn_max_age=60)
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    DATABASE_ROUTERS = ["config.db_router.ReplicaRouter"]

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "tokenrank"),
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
    "visibility_timeout": _env_int("CELERY_VISIBILITY_TIMEOUT", 3600),
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
        "schedule": _env_int("TOKENRANK_SWEEP_SECONDS", 15),
    },
    "raw-event-partitions-and-retention": {
        "task": "ingest.tasks.maintenance_partitions",
        "schedule": 3600,
    },
}

# --- Tokenrank ----------------------------------------------------------------------------
TOKENRANK = {
    "INGEST_MAX_EVENTS": _env_int("TOKENRANK_INGEST_MAX_EVENTS", 10_000),
    "INGEST_MAX_BYTES": _env_int("TOKENRANK_INGEST_MAX_BYTES", 10 * 1024 * 1024),
    "INGEST_DEFAULT_RATE_LIMIT": _env_int("TOKENRANK_INGEST_RATE_LIMIT", 600),  # requests/min
    "RAW_RETENTION_DAYS": _env_int("TOKENRANK_RAW_RETENTION_DAYS", 90),
    "PARTITIONS_AHEAD_DAYS": _env_int("TOKENRANK_PARTITIONS_AHEAD_DAYS", 3),
    # A batch still pending after this many seconds is handed to a worker again.
    "SWEEP_AFTER_SECONDS": _env_int("TOKENRANK_SWEEP_AFTER_SECONDS", 30),
    "BATCH_MAX_ATTEMPTS": _env_int("TOKENRANK_BATCH_MAX_ATTEMPTS", 5),
    # Under a backlog a worker also takes other waiting batches, up to this many events in
    # one transaction (fewer rollup rows per event); 0 processes every batch alone.
    "BATCH_COALESCE_EVENTS": _env_int("TOKENRANK_BATCH_COALESCE_EVENTS", 40_000),
    "READY_MAX_LAG_SECONDS": _env_int("TOKENRANK_READY_MAX_LAG_SECONDS", 300),
    # Gateway receivers (OTLP traces, LiteLLM): decompressed body limit (the OTLP spec's
    # recommendation), and the pending-batch backlog past which OTLP answers 503 (retried).
    "RECEIVER_MAX_BYTES": _env_int("TOKENRANK_RECEIVER_MAX_BYTES", 64 * 1024 * 1024),
    "OTLP_MAX_PENDING_BATCHES": _env_int("TOKENRANK_OTLP_MAX_PENDING_BATCHES", 20_000),
    # /metrics is served to this bearer token, and outside production also to these networks
    # (in production a same-host proxy would make every request look local): production
    # without a token answers 404.
    "METRICS_TOKEN": os.environ.get("METRICS_TOKEN", ""),
    "METRICS_ALLOWED_NETWORKS": _env_networks("METRICS_ALLOWED_NETWORKS", "127.0.0.1/32,::1/128"),
    # Reverse proxies whose X-Forwarded-For is believed (config.network.client_address).
    "TRUSTED_PROXIES": _env_networks("TOKENRANK_TRUSTED_PROXIES", ""),
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
    "rankings.errors.RefuseNulMiddleware",
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
STATIC_ROOT = DATA_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns when it is missing
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
EMBED_FRAME_ANCESTORS = _env_list("TOKENRANK_EMBED_FRAME_ANCESTORS", "*")
# Daily snapshots of the rankings (rankings.snapshots), immutable once published.
EXPORTS_LICENSE = os.environ.get("TOKENRANK_EXPORTS_LICENSE", "")
EXPORTS_DELAY_MINUTES = _env_int("TOKENRANK_EXPORTS_DELAY_MINUTES", 60)  # after the UTC day closes
EXPORTS_BACKFILL_DAYS = _env_int("TOKENRANK_EXPORTS_BACKFILL_DAYS", 7)
STORAGES["exports"] = {
    "BACKEND": "django.core.files.storage.FileSystemStorage",
    "OPTIONS": {
        "location": os.environ.get("TOKENRANK_EXPORTS_DIR", str(DATA_DIR / "exports")),
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
PLAIN_HTTP = _env_bool("TOKENRANK_PLAIN_HTTP", False)
if PRODUCTION:
    SECURE_SSL_REDIRECT = not PLAIN_HTTP and _env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    SESSION_COOKIE_SECURE = not PLAIN_HTTP
    CSRF_COOKIE_SECURE = not PLAIN_HTTP
    SECURE_HSTS_SECONDS = 0 if PLAIN_HTTP else _env_int("SECURE_HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = not PLAIN_HTTP
    SECURE_HSTS_PRELOAD = not PLAIN_HTTP

# --- Admin login throttling (django-axes) ---------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses a locked-out client before the password check
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = _env_int("TOKENRANK_ADMIN_LOGIN_FAILURES", 5)
AXES_COOLOFF_TIME = timedelta(minutes=_env_int("TOKENRANK_ADMIN_LOCKOUT_MINUTES", 15))
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
        "anon": os.environ.get("TOKENRANK_API_ANON_RATE", "120/minute"),
        "key": os.environ.get("TOKENRANK_API_KEY_RATE", "1200/minute"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Tokenrank API",
    "DESCRIPTION": "LLM token-usage rankings, series and ingest. Times are UTC, periods [start, end).",
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

# --- Logging ------------------------------------------------------------------------------
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
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
            "formatter": "json" if _env_bool("LOG_JSON", PRODUCTION) else "readable",
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "axes": {"level": "WARNING"},  # lockouts (warnings) only, not every login
    },
}
