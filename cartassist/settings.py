"""CartAssist settings: one module, driven by environment variables.

With no configuration CartAssist runs *embedded*: SQLite, the in-memory channel
layer, tasks in-process and the stall sweep on a thread of the server process.
``DATABASE_URL`` switches to PostgreSQL and ``REDIS_URL`` to the Redis channel
layer, Redis cache and Celery (worker + beat). Every setting is documented in
``docs/SETTINGS.md``.
"""

from __future__ import annotations

import os
import re
import sys
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


# --- typed helpers -------------------------------------------------------------------


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {value!r}")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from exc


def env_rate(name: str, default: str) -> str:
    """A rate limit as DRF reads it, ``<requests>/<period>`` (``600/min``, ``10/s``,
    ``5000/hour``, ``1/day``): refused at start-up rather than failing every request."""
    value = os.environ.get(name) or default
    if not re.fullmatch(r"[0-9]+/(s|sec|second|m|min|minute|h|hour|d|day)", value):
        raise ImproperlyConfigured(
            f"{name} must be <requests>/<s|min|hour|day>, such as {default!r}; got {value!r}"
        )
    return value


def env_seconds(name: str, default: float) -> float:
    """A duration in seconds, decimals allowed ("0.5"), above zero."""
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        seconds = float(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a number of seconds, got {value!r}") from exc
    if not 0 < seconds < float("inf"):
        raise ImproperlyConfigured(f"{name} must be above zero, got {value!r}")
    return seconds


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_secret(name: str, default: str = "") -> str:
    """A secret from ``NAME`` or from the file named by ``NAME_FILE`` (Docker/K8s secrets)."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        return Path(path).read_text().strip()
    return os.environ.get(name, default)


# --- core ----------------------------------------------------------------------------

DATABASE_URL = env_secret("DATABASE_URL")
REDIS_URL = env_secret("REDIS_URL")
# Embedded mode: no external services configured. Also makes DEBUG default to on,
# because the embedded mode is the demo / development mode.
EMBEDDED = not DATABASE_URL and not REDIS_URL

DEBUG = env_bool("DEBUG", default=EMBEDDED)
SECRET_KEY = env_secret("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "embedded-insecure-key-for-local-demo-only-never-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",  # first, so its runserver (HTTP + WebSockets) wins: daphne.E001
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",  # login lockout (docs/OPERATIONS.md, "Login lockout")
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI / Redoc assets served locally, no CDN
    "channels",
    "cartassist.apps.CartAssistConfig",
    "agents.apps.AgentsConfig",
    "policies.apps.PoliciesConfig",
    "cartassist.integrations.apps.IntegrationsConfig",  # Shopify, WooCommerce (docs/integrations/)
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The agent's and merchandiser's language from Accept-Language (or the session);
    # shopper-facing pages choose theirs from the site's languages (docs/LOCALISATION.md).
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

# First the lockout check (refuses a locked-out username + address before any password is
# checked), then the usual user table. Every login form passes `request` to authenticate().
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "cartassist.urls"
WSGI_APPLICATION = "cartassist.wsgi.application"
ASGI_APPLICATION = "cartassist.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

LANGUAGE_CODE = "en"
# The shipped languages: each is complete in every catalogue (tests/i18n). English is the
# source language. docs/LOCALISATION.md says how to add one.
LANGUAGES = [
    ("en", "English"),
    ("de", "Deutsch"),
    ("fr", "Français"),
    ("es", "Español"),
]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env("STATIC_ROOT", str(BASE_DIR / "var" / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns about a missing root
WHITENOISE_USE_FINDERS = DEBUG  # embedded mode serves static/ without collectstatic
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "cartassist.staticfiles.ModuleManifestStaticFilesStorage"  # ADR 0014
        )
    },
}

LOGIN_URL = "/admin/login/"

# --- login lockout (django-axes; docs/OPERATIONS.md, "Login lockout") ----------------------

# After this many failed logins for one username from one client address, that pair is
# locked out of the console and admin login forms, even with the right password...
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
# ...for this long (each further attempt meanwhile starts it again), unless an admin
# unlocks it first (admin "Access attempts", or manage.py axes_reset_username <name>).
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# A successful login forgets the earlier failures: only failures in a row count.
AXES_RESET_ON_SUCCESS = True
# The client address as the rate limits see it (NUM_PROXIES, X-Forwarded-For).
AXES_CLIENT_IP_CALLABLE = "cartassist.api.throttles.client_address"
AXES_LOCKOUT_CALLABLE = "cartassist.lockout.login_locked_out"

# --- database --------------------------------------------------------------------------

# PostgreSQL connections are bounded per process (docs/OPERATIONS.md, "Database
# connections"): a pool (psycopg_pool) of at most DATABASE_POOL_MAX_SIZE, shared by the
# process's threads. Persistent per-thread connections (CONN_MAX_AGE) are not used with it:
# daphne runs each HTTP request on a thread of its own, and each kept its connection.
DATABASE_POOL = env_bool("DATABASE_POOL", default=True)
DATABASE_CONN_MAX_AGE = env_int("DATABASE_CONN_MAX_AGE", 0)
DATABASE_CONN_HEALTH_CHECKS = env_bool("DATABASE_CONN_HEALTH_CHECKS", default=True)
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL,
            conn_max_age=DATABASE_CONN_MAX_AGE,
            conn_health_checks=DATABASE_CONN_HEALTH_CHECKS,
        )
    }
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        options = DATABASES["default"].setdefault("OPTIONS", {})
        # Who holds a connection, in pg_stat_activity: "cartassist daphne", "… gunicorn",
        # "… celery".
        options["application_name"] = env(
            "DATABASE_APPLICATION_NAME", f"cartassist {Path(sys.argv[0]).name}"[:63]
        )
        if DATABASE_POOL:
            if DATABASE_CONN_MAX_AGE:
                raise ImproperlyConfigured(
                    "DATABASE_CONN_MAX_AGE must be 0 with DATABASE_POOL on: the pool keeps "
                    "the connections (or set DATABASE_POOL=false)."
                )
            options["pool"] = {
                "min_size": env_int("DATABASE_POOL_MIN_SIZE", 1),
                "max_size": env_int("DATABASE_POOL_MAX_SIZE", 4),
                # A request waits this long for a free connection, then fails.
                "timeout": env_int("DATABASE_POOL_TIMEOUT_SECONDS", 10),
                # Connections above min_size close after this long unused.
                "max_idle": env_int("DATABASE_POOL_MAX_IDLE_SECONDS", 300),
                # DATABASE_CONN_HEALTH_CHECKS: Django has the pool check each connection
                # before handing it out.
            }
    # The chat's hot path (a message send: one statement) runs on the event loop through
    # psycopg's async driver, on a pool of its own per realtime process (ADR 0017,
    # cartassist/core/async_db.py): sockets no longer queue on the one ORM thread. 0 turns
    # it off (the send then goes through the ORM thread, as every other frame does).
    # Connections are not checked before each use: a broken one is replaced and the
    # (idempotent) statement run again.
    DATABASE_ASYNC_POOL_MIN_SIZE = env_int("DATABASE_ASYNC_POOL_MIN_SIZE", 1)
    DATABASE_ASYNC_POOL_MAX_SIZE = env_int("DATABASE_ASYNC_POOL_MAX_SIZE", 8)
    DATABASE_ASYNC_POOL_TIMEOUT_SECONDS = env_int("DATABASE_ASYNC_POOL_TIMEOUT_SECONDS", 10)
    DATABASE_ASYNC_POOL_MAX_IDLE_SECONDS = env_int("DATABASE_ASYNC_POOL_MAX_IDLE_SECONDS", 300)
    # Statements run this many times on a connection are prepared by the server (-1: never,
    # e.g. behind a PgBouncer older than 1.21 in transaction mode).
    DATABASE_ASYNC_PREPARE_THRESHOLD = env_int("DATABASE_ASYNC_PREPARE_THRESHOLD", 2)
else:
    DATABASE_ASYNC_POOL_MAX_SIZE = 0  # SQLite: the ORM path (agents/services/conversations.py)
    SQLITE_PATH = Path(env("SQLITE_PATH", str(BASE_DIR / "var" / "cartassist.sqlite3")))
    SQLITE_PATH.parent.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(SQLITE_PATH),
            # WAL + persistent connections: ~3x the write rate of the default journal
            # (see docs/PERFORMANCE.md). IMMEDIATE transactions take the write lock up
            # front, so read-then-write transactions never fail with "database is locked".
            "CONN_MAX_AGE": None,
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            "TEST": {"NAME": env("SQLITE_TEST_PATH", "") or None},
        }
    }

# --- cache (rate limits, replay protection) -----------------------------------------

# A request waits at most this long for Redis before it is treated as unavailable (rate
# limits fall back to per-process counts, signed requests get 503; docs/adr/0012).
REDIS_SOCKET_TIMEOUT = env_int("REDIS_SOCKET_TIMEOUT_SECONDS", 2)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env("CACHE_KEY_PREFIX", "cartassist"),
            "OPTIONS": {
                "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
                "socket_timeout": REDIS_SOCKET_TIMEOUT,
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- channels --------------------------------------------------------------------------

if REDIS_URL:
    # Pub/sub layer (lower latency, higher throughput than the core layer, and no idle
    # socket drops with redis-py 8), with a bound per socket: agents/layers.py.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "agents.layers.BoundedRedisPubSubChannelLayer",
            "CONFIG": {
                "hosts": [REDIS_URL],
                "prefix": env("CHANNELS_PREFIX", "cartassist"),
                "capacity": env_int("CARTASSIST_SOCKET_BUFFER", 200),
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- celery ----------------------------------------------------------------------------

CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"  # in-process; a host keeps kombu quiet
# Every broker key (the queue, kombu's bindings) under a prefix of its own, so that
# installations sharing one Redis database never take each other's tasks.
if env("CELERY_KEY_PREFIX", ""):
    CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": env("CELERY_KEY_PREFIX", "")}
CELERY_RESULT_BACKEND = None
# Embedded mode runs tasks in-process (Saleor's rule): same code, no broker.
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --- security --------------------------------------------------------------------------

SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=False)
# Preloading (security.W021) commits the whole domain to HTTPS in browsers' built-in lists
# and is slow to undo: the operator opts in with SECURE_HSTS_PRELOAD=true. Until then that
# one deployment check is silenced, so `check --deploy` stays clean.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Bodies larger than this are refused by Django for form posts; the JSON API has its
# own, smaller limit (CARTASSIST_MAX_BODY_BYTES) enforced by the project itself.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 2_621_440)

# --- REST framework / OpenAPI ---------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "cartassist.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_THROTTLE_RATES": {
        "widget_events": env_rate("CARTASSIST_WIDGET_RATE", "600/min"),
        "server_events": env_rate("CARTASSIST_SERVER_RATE", "6000/min"),
        "widget_session": env_rate("CARTASSIST_WIDGET_SESSION_RATE", "120/min"),
        "verification": env_rate("CARTASSIST_VERIFICATION_RATE", "30/min"),
    },
    # Reverse proxies in front of CartAssist; the client address for rate limits is taken
    # from X-Forwarded-For accordingly (DRF's rule). Unset: REMOTE_ADDR.
    "NUM_PROXIES": env_int("NUM_PROXIES", 0) or None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "CartAssist API",
    "DESCRIPTION": (
        "Cart events in, stalled checkouts detected. Widget endpoints authenticate with the "
        "site's public key and the browser's Origin; server endpoints with an HMAC-SHA256 "
        "signature. See docs/API.md for the signing recipe and examples."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Examples stay valid: their event times are "now" (cartassist/api/schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "cartassist.api.schema.fresh_examples",
    ],
}

# --- logging ---------------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    # axes: failures and lockouts are warnings; its per-attempt chatter is INFO.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}

# --- cartassist ------------------------------------------------------------------------

# Largest accepted JSON body on the API, enforced while reading (also with a missing or
# understated Content-Length).
CARTASSIST_MAX_BODY_BYTES = env_int("CARTASSIST_MAX_BODY_BYTES", 256 * 1024)
# Most events accepted in one batch.
CARTASSIST_MAX_BATCH_EVENTS = env_int("CARTASSIST_MAX_BATCH_EVENTS", 100)
# Server-signed requests: how far the signed timestamp may be from now.
CARTASSIST_SIGNATURE_WINDOW = timedelta(seconds=env_int("CARTASSIST_SIGNATURE_WINDOW_SECONDS", 300))
# Process-local caches of sites, stall rules and the carts chats follow (docs/adr/0018):
# at most this many seconds between two comparisons with the shared version stamp, i.e.
# how long another process may serve a site or stall rule after it changed.
CARTASSIST_LOCAL_CACHE_SECONDS = env_int("CARTASSIST_LOCAL_CACHE_SECONDS", 1)
# How far in the future an event's occurred_at may be (client clock skew).
CARTASSIST_MAX_CLOCK_SKEW = timedelta(seconds=env_int("CARTASSIST_MAX_CLOCK_SKEW_SECONDS", 300))
# Events older than this are refused (a stale queue replayed days later).
CARTASSIST_MAX_EVENT_AGE = timedelta(hours=env_int("CARTASSIST_MAX_EVENT_AGE_HOURS", 72))
# How long the previous site secret stays valid after a rotation.
CARTASSIST_SECRET_ROTATION_GRACE = timedelta(
    hours=env_int("CARTASSIST_SECRET_ROTATION_GRACE_HOURS", 24)
)
# The stall sweep: how often it runs and how many carts one batch claims. A stalled
# cart's invitation leaves within one interval of its deadline (ADR 0020); a sweep with
# nothing due is one index probe and no transaction.
CARTASSIST_SWEEP_INTERVAL = timedelta(seconds=env_seconds("CARTASSIST_SWEEP_INTERVAL_SECONDS", 0.5))
CARTASSIST_SWEEP_BATCH_SIZE = env_int("CARTASSIST_SWEEP_BATCH_SIZE", 500)
# Embedded mode runs the sweep on a thread inside the server process. Production mode
# runs it from Celery beat instead.
CARTASSIST_SWEEP_IN_PROCESS = env_bool("CARTASSIST_SWEEP_IN_PROCESS", default=not REDIS_URL)
# The check "is there an agent able to take the chat?" used by suppression: a dotted
# path to a callable(site) -> bool. Default: the site's switch AND an online agent with a
# free seat (console presence). "cartassist.carts.availability.site_setting" uses the switch
# only ("cartassist.availability.site_setting", the older path, still works).
CARTASSIST_AGENT_AVAILABILITY = env(
    "CARTASSIST_AGENT_AVAILABILITY", "agents.services.presence.agent_with_free_capacity"
)
# Pacing outreach to the helpdesk's capacity (docs/ANALYTICS.md "Helpdesk pacing",
# docs/OPERATIONS.md "Helpdesk capacity", ADR 0024); on per site in the admin.
# Before data: this share of invitations is expected to cause a helpdesk contact, worth
# this many pseudo-invitations (the overall rate's shrinkage, and each stall reason's
# towards the overall rate).
CARTASSIST_PACING_PRIOR_RATE_PERCENT = env_int("CARTASSIST_PACING_PRIOR_RATE_PERCENT", 10)
CARTASSIST_PACING_PRIOR_STRENGTH = env_int("CARTASSIST_PACING_PRIOR_STRENGTH", 20)
CARTASSIST_PACING_REASON_STRENGTH = env_int("CARTASSIST_PACING_REASON_STRENGTH", 50)
# Follow-ups counted for pacing: within this many hours after outreach (the delay curve's
# length, and how far back recent invitations still load the helpdesk).
CARTASSIST_PACING_DELAY_HOURS = env_int("CARTASSIST_PACING_DELAY_HOURS", 48)
# The coming hours checked against capacity at each decision.
CARTASSIST_PACING_HORIZON_HOURS = env_int("CARTASSIST_PACING_HORIZON_HOURS", 24)
# Invitations measured for the rates and the delay curve: the last this many days.
CARTASSIST_PACING_STATS_DAYS = env_int("CARTASSIST_PACING_STATS_DAYS", 56)
# A waiting invitation is decided again after this long, and suppressed as
# "helpdesk busy" once its stall deadline is this old (0: suppressed at once).
CARTASSIST_PACING_RETRY = timedelta(seconds=env_int("CARTASSIST_PACING_RETRY_SECONDS", 30))
CARTASSIST_PACING_MAX_WAIT = timedelta(seconds=env_int("CARTASSIST_PACING_MAX_WAIT_SECONDS", 600))
# A queue the helpdesk reported live counts for this long.
CARTASSIST_HELPDESK_QUEUE_MAX_AGE = timedelta(
    seconds=env_int("CARTASSIST_HELPDESK_QUEUE_MAX_AGE_SECONDS", 900)
)
# The embedded demo storefront at /demo/.
CARTASSIST_DEMO_ENABLED = env_bool("CARTASSIST_DEMO_ENABLED", default=EMBEDDED)

# --- live chat (docs/REALTIME.md) ---------------------------------------------------------

# Visitor tokens for the widget socket expire after this long.
CARTASSIST_VISITOR_TOKEN_TTL = timedelta(hours=env_int("CARTASSIST_VISITOR_TOKEN_TTL_HOURS", 24))
# An invitation nobody answers expires (and counts as ignored) after this long.
CARTASSIST_INVITATION_TTL = timedelta(seconds=env_int("CARTASSIST_INVITATION_TTL_SECONDS", 600))
CARTASSIST_MAX_MESSAGE_LENGTH = env_int("CARTASSIST_MAX_MESSAGE_LENGTH", 2000)
# Messages a socket may send per 10 s before it gets "rate_limited" errors.
CARTASSIST_SOCKET_MESSAGE_BURST = env_int("CARTASSIST_SOCKET_MESSAGE_BURST", 20)
# An agent without a console heartbeat for this long is offline...
CARTASSIST_AGENT_HEARTBEAT_TIMEOUT = timedelta(
    seconds=env_int("CARTASSIST_AGENT_HEARTBEAT_TIMEOUT_SECONDS", 45)
)
# ...and after this grace period their active chats go back to the queue.
CARTASSIST_AGENT_GRACE = timedelta(seconds=env_int("CARTASSIST_AGENT_GRACE_SECONDS", 90))
# A shopper not seen (socket closed, no ping) for this long is timed out of the chat.
CARTASSIST_VISITOR_TIMEOUT = timedelta(seconds=env_int("CARTASSIST_VISITOR_TIMEOUT_SECONDS", 300))
# How often invitation expiry, agent grace and visitor timeouts are checked.
CARTASSIST_HOUSEKEEPING_INTERVAL = timedelta(
    seconds=env_int("CARTASSIST_HOUSEKEEPING_INTERVAL_SECONDS", 5)
)
# Per-socket bound of queued outgoing events (Redis pub/sub layer); see agents/layers.py.
CARTASSIST_SOCKET_BUFFER = env_int("CARTASSIST_SOCKET_BUFFER", 200)
# Largest incoming WebSocket message or frame the realtime process reads (its Procfile
# server, cartassist/asgi_server.py): a larger one closes the socket with 1009. Frames
# between 16 KiB (agents/frames.py) and this limit get an "invalid_frame" error instead.
CARTASSIST_WEBSOCKET_MAX_BYTES = env_int("CARTASSIST_WEBSOCKET_MAX_BYTES", 64 * 1024)

# --- empowerment policies (docs/POLICIES.md) ---------------------------------------------

# An offer the shopper has not answered expires (and releases its budget) after this long.
CARTASSIST_OFFER_TTL = timedelta(seconds=env_int("CARTASSIST_OFFER_TTL_SECONDS", 900))
# A grant must be redeemed by the shop within this long.
CARTASSIST_GRANT_TTL = timedelta(seconds=env_int("CARTASSIST_GRANT_TTL_SECONDS", 7200))

# --- webhooks to the shop backend (docs/WEBHOOKS.md) -------------------------------------

# How long one delivery attempt may take (connect + answer) before it counts as failed.
CARTASSIST_WEBHOOK_TIMEOUT = timedelta(seconds=env_int("CARTASSIST_WEBHOOK_TIMEOUT_SECONDS", 10))
# Attempts per delivery (the first one included) before it is marked failed.
CARTASSIST_WEBHOOK_MAX_ATTEMPTS = env_int("CARTASSIST_WEBHOOK_MAX_ATTEMPTS", 8)
# How often the redelivery pass sends deliveries whose retry time has come and takes back
# deliveries a stopped worker left in "sending" (Celery beat, or the embedded scheduler).
CARTASSIST_WEBHOOK_REDELIVERY_INTERVAL = timedelta(
    seconds=env_int("CARTASSIST_WEBHOOK_REDELIVERY_INTERVAL_SECONDS", 30)
)

# --- email to shoppers who left a chat (docs/OPERATIONS.md, "Email to shoppers") -----------
# Django's SMTP backend by default; the console backend prints mail (development). Each
# site sends from its own verified address (Site.email_sender_address), so there is no
# DEFAULT_FROM_EMAIL for shoppers; SERVER_EMAIL is for error mail to ADMINS only.
EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_secret("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)  # STARTTLS, usually port 587
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)  # implicit TLS, usually port 465
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT_SECONDS", 20)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("Set EMAIL_USE_TLS or EMAIL_USE_SSL, not both.")
SERVER_EMAIL = env("SERVER_EMAIL", "root@localhost")
# The public address of this CartAssist (https://assist.shop.example): an email's links
# (resume, verification, unsubscribe) must be absolute. Required to send email.
CARTASSIST_PUBLIC_URL = env("CARTASSIST_PUBLIC_URL").rstrip("/")
# An email's resume link opens the chat for this long after it was sent.
CARTASSIST_EMAIL_RESUME_TTL = timedelta(hours=env_int("CARTASSIST_EMAIL_RESUME_TTL_HOURS", 72))
# Sending is retried this many times (back-off 30 s, 1 min, 2 min, …) before it fails.
CARTASSIST_EMAIL_MAX_ATTEMPTS = env_int("CARTASSIST_EMAIL_MAX_ATTEMPTS", 5)
# A deliverable address (docs/adr/0025) is purged this long after the last signed event
# that gave it.
CARTASSIST_SHOPPER_EMAIL_RETENTION = timedelta(
    days=env_int("CARTASSIST_SHOPPER_EMAIL_RETENTION_DAYS", 30)
)

# --- platform integrations (docs/integrations/) -------------------------------------------

# How long one call to a shop platform's API (creating a discount) may take, in seconds.
CARTASSIST_PLATFORM_TIMEOUT = env_int("CARTASSIST_PLATFORM_TIMEOUT_SECONDS", 10)
# Attempts at creating one native discount (the first included) while the platform is
# unreachable or failing (timeout, 429, 5xx); back-off 10 s, 30 s, 90 s, … between them.
CARTASSIST_PLATFORM_MAX_ATTEMPTS = env_int("CARTASSIST_PLATFORM_MAX_ATTEMPTS", 5)

# --- outcomes (docs/ANALYTICS.md) ----------------------------------------------------------

# How often interventions whose attribution window has closed are finalised.
CARTASSIST_OUTCOMES_INTERVAL = timedelta(
    seconds=env_int("CARTASSIST_OUTCOMES_INTERVAL_SECONDS", 300)
)

CELERY_BEAT_SCHEDULE = {
    "outcomes-finalise": {
        "task": "cartassist.tasks.outcomes_finalise_task",
        "schedule": CARTASSIST_OUTCOMES_INTERVAL.total_seconds(),
    },
    "chat-housekeeping": {
        "task": "agents.tasks.chat_housekeeping_task",
        "schedule": CARTASSIST_HOUSEKEEPING_INTERVAL.total_seconds(),
    },
    "stall-sweep": {
        "task": "cartassist.tasks.stall_sweep_task",
        "schedule": CARTASSIST_SWEEP_INTERVAL.total_seconds(),
        # A sweep still queued after this long is dropped: a busy worker then runs the
        # latest instead of a backlog of sweeps (each would find nothing left to do). At
        # least 5 s, so that clocks a little apart never drop every sweep (ADR 0020).
        "options": {"expires": max(5.0, 10 * CARTASSIST_SWEEP_INTERVAL.total_seconds())},
    },
    "webhooks-redeliver": {
        "task": "cartassist.tasks.webhooks_redeliver_due_task",
        "schedule": CARTASSIST_WEBHOOK_REDELIVERY_INTERVAL.total_seconds(),
    },
}
