"""All settings, read from the environment. Defaults make a fresh checkout run.

Production means DEBUG off: SECRET_KEY and ALLOWED_HOSTS are then required, and the secure
cookie/HSTS settings switch on so that `manage.py check --deploy` has nothing to report.
"""

import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE as CSP_NONE
from csp.constants import SELF as CSP_SELF
from django.core.exceptions import ImproperlyConfigured

from astro_ui.env import env_bool, env_int, env_list, env_networks, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var"))).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", True)


def _secret_key() -> str:
    key = env_str("SECRET_KEY")
    if key:
        return key
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY is required when DEBUG is off")
    # Development: generate once and keep it, so sessions survive restarts.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS is required when DEBUG is off")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# Reverse proxies whose X-Forwarded-For we believe (see README, "Client addresses").
TRUSTED_PROXIES = env_networks("TRUSTED_PROXIES")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "astro_ui",  # wiring only; listed for its management commands (run_console)
    "deployments",
    "audit",
    "tokens",
    "agents",
    "onboarding",
    "api",
    "fleet",
    "alerts",
    "axes",
    "csp",
]

MIDDLEWARE = [
    "astro_ui.request_id.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "astro_ui.redis_client.CacheNotUpdatedMiddleware",
    # Last, as django-axes asks: it turns a locked-out log-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "astro_ui.urls"
WSGI_APPLICATION = "astro_ui.wsgi.application"
ASGI_APPLICATION = "astro_ui.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
            "builtins": ["template_partials.templatetags.partials"],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server, Celery and the demo agents write at once: WAL lets readers run beside a
    # writer, IMMEDIATE takes the write lock up front instead of failing mid-transaction, and
    # writers queue for up to 20 s. Tests use a file too, so concurrent live-server requests get
    # connections of their own instead of sharing one in-memory database connection.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis: heartbeats, the dashboard version counters, caches and the Celery broker.
# Without REDIS_URL, `make run` and the tests start an embedded server on this socket.
REDIS_URL = env_str("REDIS_URL", f"unix://{VAR_DIR / 'redis.sock'}")
# The agent API's data (heartbeats, the caches it reads, the table versions) may live on a Redis
# Cluster instead: `redis+cluster://host:port` (any node; the others are discovered). Celery and
# Django's cache stay on REDIS_URL, a single server, because Celery does not speak Cluster.
# Empty: REDIS_URL.
AGENT_REDIS_URL = env_str("AGENT_REDIS_URL", "")
# Threads per server process that run Django (pages, the management API) under the ASGI front.
WEB_THREADS = env_int("WEB_THREADS", 4, minimum=1)


def _celery_url(url: str) -> str:
    return "redis+socket://" + url.removeprefix("unix://") if url.startswith("unix://") else url


CACHES = {
    "default": {
        "BACKEND": "astro_ui.cache.TolerantRedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "cache",
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
    }
}

CELERY_BROKER_URL = _celery_url(REDIS_URL)
CELERY_RESULT_BACKEND = _celery_url(REDIS_URL)
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_EXPIRES = 3600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    "flush-token-usage": {"task": "tokens.tasks.flush_token_usage", "schedule": 30.0},
    "record-expired-tokens": {"task": "tokens.tasks.record_expired_tokens", "schedule": 60.0},
    "sweep-agent-health": {
        "task": "agents.tasks.sweep_agent_health",
        "schedule": float(env_int("AGENT_SWEEP_SECONDS", 5, minimum=1)),
        "options": {"expires": 5},
    },
    "flush-heartbeats": {
        "task": "agents.tasks.flush_heartbeats",
        "schedule": float(env_int("AGENT_FLUSH_SECONDS", 5, minimum=1)),
        "options": {"expires": 5},
    },
    "evaluate-alerts": {
        "task": "alerts.tasks.evaluate_alerts",
        "schedule": float(env_int("ALERT_EVALUATE_SECONDS", 30, minimum=1)),
        "options": {"expires": 30},
    },
    "prune-alert-deliveries": {"task": "alerts.tasks.prune_alert_deliveries", "schedule": 3600.0},
}

CELERY_BEAT_SCHEDULE["expire-test-runs"] = {
    "task": "agents.tasks.expire_test_runs",
    "schedule": 5.0,
    "options": {"expires": 5},
}
CELERY_BEAT_SCHEDULE["lift-expired-cordons"] = {
    "task": "agents.tasks.lift_expired_cordons",
    "schedule": 15.0,
    "options": {"expires": 15},
}
# A test run that no agent takes, or whose agent stops reporting, fails after this long.
TEST_RUN_TIMEOUT_SECONDS = env_int("TEST_RUN_TIMEOUT_SECONDS", 120, minimum=5)
# Fleet history (see README, "Fleet history"): the fleet is sampled every HISTORY_SAMPLE_SECONDS
# into hourly rollups, kept HISTORY_RETENTION_DAYS. Heartbeats themselves never write history.
HISTORY_ENABLED = env_bool("HISTORY_ENABLED", True)
HISTORY_SAMPLE_SECONDS = env_int("HISTORY_SAMPLE_SECONDS", 60, minimum=5)
HISTORY_RETENTION_DAYS = env_int("HISTORY_RETENTION_DAYS", 7, minimum=1)
CELERY_BEAT_SCHEDULE |= {
    "sample-fleet-history": {
        "task": "fleet.tasks.sample_fleet_history",
        "schedule": float(HISTORY_SAMPLE_SECONDS),
        "options": {"expires": HISTORY_SAMPLE_SECONDS},
    },
    "prune-fleet-history": {"task": "fleet.tasks.prune_fleet_history", "schedule": 3600.0},
    "remove-stale-agents": {"task": "fleet.tasks.remove_stale_agents", "schedule": 3600.0},
}

# The audit trail is append-only and kept (audit/models.py); there is no retention setting.

# Agent health: a heartbeat within AGENT_HEALTHY_SECONDS means Healthy. Agents are told to
# heartbeat every HEARTBEAT_INTERVAL_SECONDS.
AGENT_HEALTHY_SECONDS = env_int("AGENT_HEALTHY_SECONDS", 60, minimum=1)
HEARTBEAT_INTERVAL_SECONDS = env_int("HEARTBEAT_INTERVAL_SECONDS", 15, minimum=1)
# Heartbeat times live in Redis; the database gets an agent's time only when something else about
# it changed, on a health transition, or at least this often (a checkpoint if Redis loses data).
# 20 minutes: one row per agent every 80 heartbeats, which leaves room for the fleet history's
# hourly rollups within 0.02 database rows per heartbeat.
AGENT_CHECKPOINT_SECONDS = env_int("AGENT_CHECKPOINT_SECONDS", 1200, minimum=1)
AGENT_SWEEP_SECONDS = env_int("AGENT_SWEEP_SECONDS", 5, minimum=1)
AGENT_FLUSH_SECONDS = env_int("AGENT_FLUSH_SECONDS", 5, minimum=1)

# Alerts (see README, "Alerts"): a failed delivery is retried ALERT_DELIVERY_RETRIES times after
# 5xx answers and timeouts, waiting ALERT_RETRY_BASE_SECONDS, then twice as long each time.
ALERT_DELIVERY_RETRIES = env_int("ALERT_DELIVERY_RETRIES", 5, minimum=0)
ALERT_RETRY_BASE_SECONDS = env_int("ALERT_RETRY_BASE_SECONDS", 10, minimum=0)
ALERT_DELIVERY_TIMEOUT_SECONDS = env_int("ALERT_DELIVERY_TIMEOUT_SECONDS", 10, minimum=1)
ALERT_CHANNEL_MAX_FAILURES = env_int("ALERT_CHANNEL_MAX_FAILURES", 5, minimum=1)
ALERT_DELIVERY_RETENTION_DAYS = env_int("ALERT_DELIVERY_RETENTION_DAYS", 30, minimum=1)

# E-mail for alerts. Without EMAIL_HOST, messages are written to the console log instead.
EMAIL_HOST = env_str("EMAIL_HOST")
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("Set at most one of EMAIL_USE_TLS and EMAIL_USE_SSL")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "remote-agents@localhost")

# /metrics answers a bearer METRICS_TOKEN, or any address in METRICS_ALLOWED_IPS (loopback
# unless set; set it empty to require the token from everywhere).
METRICS_TOKEN = env_str("METRICS_TOKEN")
METRICS_ALLOWED_IPS = env_networks("METRICS_ALLOWED_IPS", ["127.0.0.1", "::1"])

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Sessions read from the cache (Redis) so the Agents table's polls need no SQL.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
LOGIN_URL = "login"
# Log-in throttling (django-axes, records in the database so it holds while Redis is down):
# after LOGIN_FAILURE_LIMIT wrong passwords for one account, or from one address, log-in is
# refused there for LOGIN_LOCKOUT_MINUTES after the last counted failure. Applies to /login/
# and /admin/login/ (every authenticate() call with a request).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# Attempts during a lockout do not extend it, so the time the page names holds.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "astro_ui.net.client_ip"
AXES_LOCKOUT_CALLABLE = "astro_ui.lockout.lockout_response"
# Successful log-ins are not logged a second time (the audit trail and server logs have them).
AXES_DISABLE_ACCESS_LOG = True
# Management API tokens: wrong tokens allowed per address and window (see api/auth.py).
API_TOKEN_GUESS_LIMIT = env_int("API_TOKEN_GUESS_LIMIT", 20, minimum=1)
API_TOKEN_GUESS_WINDOW = env_int("API_TOKEN_GUESS_WINDOW", 600, minimum=1)
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# The management API's OpenAPI schema (/api/v1/openapi.yaml) and docs (/api/v1/docs/), whose
# Swagger UI assets are served from our own static files. The agent API is not part of it.
SPECTACULAR_SETTINGS = {
    "TITLE": "Remote Agents management API",
    "DESCRIPTION": "Agent tokens, agents and remote execution settings of a deployment.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1/",
    "PREPROCESSING_HOOKS": ["api.schema.only_management_api"],
    "COMPONENT_SPLIT_REQUEST": True,
    # An agent token's scope and its role's entity type share this one-value enum.
    "ENUM_NAME_OVERRIDES": {"DeploymentScopeEnum": ["DEPLOYMENT"]},
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # Deep links put a link inside each operation's toggle button: nested controls that
    # keyboard and screen reader users cannot reach.
    "SWAGGER_UI_SETTINGS": {"deepLinking": False},
    "REDOC_DIST": "SIDECAR",
}

# Content-Security-Policy on every response: scripts, styles, fonts and connections from this
# origin only, no inline script or style (htmx's own indicator styles are off, see base.html),
# no framing, forms post here only. The API docs' Swagger UI runs under it too (its assets come
# from drf-spectacular-sidecar, served as our static files, and its start-up script is a file).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [CSP_SELF],
        "script-src": [CSP_SELF],
        "style-src": [CSP_SELF],
        "img-src": [CSP_SELF, "data:"],
        "font-src": [CSP_SELF],
        "connect-src": [CSP_SELF],
        "object-src": [CSP_NONE],
        "base-uri": [CSP_NONE],
        "form-action": [CSP_SELF],
        "frame-ancestors": [CSP_NONE],
    }
}

# Optional absolute base URL used in links and values.yaml (e.g. https://agents.example.com).
PUBLIC_URL = env_str("PUBLIC_URL").rstrip("/")

# Register a Remote Agent: where the generated install commands and values.yaml point. The chart
# repository (the vendor's, or a mirror of it) is only shown to operators, never fetched here.
AGENT_CHART_REPOSITORY_URL = env_str("AGENT_CHART_REPOSITORY_URL", "https://helm.astronomer.io")
AGENT_IMAGE_REPOSITORY = env_str("AGENT_IMAGE_REPOSITORY", "registry.local/remote-execution-agent")
# The image tag is "<deployment runtime version>-<this suffix>", e.g. 3.1-3-python-3.12-agent-1.3.2.
AGENT_IMAGE_TAG_SUFFIX = env_str("AGENT_IMAGE_TAG_SUFFIX", "python-3.12-agent-1.3.2")
# The Sentinel monitoring image, written into values.yaml (Sentinel itself is off by default).
AGENT_SENTINEL_IMAGE = env_str(
    "AGENT_SENTINEL_IMAGE", "registry.local/remote-execution-sentinel:1.3.2"
)

if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    if env_bool("SECURE_PROXY_SSL_HEADER", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOG_LEVEL = (env_str("LOG_LEVEL") or "INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(
        f"LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL; got {LOG_LEVEL!r}"
    )
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"}
    },
    "filters": {"request_id": {"()": "astro_ui.request_id.RequestIdFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # runserver's line per request (every heartbeat, every poll) obeys LOG_LEVEL too.
        "django.server": {
            "handlers": ["console"],
            "level": LOG_LEVEL,
            "propagate": False,
        },
    },
}
