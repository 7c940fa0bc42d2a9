"""Settings for Pingan, read from the environment.

``PINGAN_ENV`` picks the profile: ``demo`` (default: SQLite under ``var/``, secrets created on first
run), ``test`` (like demo, faster hashing) or ``production`` (secrets and hosts must be given; refuses
to start without them). Every other knob is an environment variable documented in docs/operations.md.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()

PINGAN_ENV = env.str("PINGAN_ENV", default="demo")
if PINGAN_ENV not in {"demo", "test", "production"}:
    raise ImproperlyConfigured(f"PINGAN_ENV must be demo, test or production, not {PINGAN_ENV!r}")
PRODUCTION = PINGAN_ENV == "production"

VAR_DIR = Path(env.str("PINGAN_VAR_DIR", default=str(BASE_DIR / "var")))


def env_secret(name: str) -> str | None:
    """A secret from ``NAME`` or from the file named by ``NAME_FILE`` (Docker/Kubernetes style)."""
    value = env.str(name, default="")
    if value:
        return value
    path = env.str(f"{name}_FILE", default="")
    if path:
        return Path(path).read_text(encoding="utf-8").strip()
    return None


def local_secret(name: str) -> str:
    """A secret kept under ``var/`` (demo and test only), created on first use, owner-only."""
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    path = VAR_DIR / f"{name}.secret"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


def required_secret(name: str) -> str:
    value = env_secret(name)
    if value:
        return value
    if PRODUCTION:
        raise ImproperlyConfigured(f"{name} (or {name}_FILE) must be set in production")
    return local_secret(name.lower())


SECRET_KEY = required_secret("PINGAN_SECRET_KEY")
# Key for signing follow codes, device messages and other tokens; separate from SECRET_KEY so
# that it can be rotated on its own.
PINGAN_SIGNING_KEY = required_secret("PINGAN_SIGNING_KEY")

DEBUG = env.bool("PINGAN_DEBUG", default=False)
ALLOWED_HOSTS = env.list("PINGAN_ALLOWED_HOSTS", default=[] if PRODUCTION else ["127.0.0.1", "localhost", "testserver"])
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("PINGAN_ALLOWED_HOSTS must be set in production")
CSRF_TRUSTED_ORIGINS = env.list("PINGAN_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "axes",
    "ninja",
    "pingan.core",
    "pingan.geo",
    "pingan.accounts",
    "pingan.events",
    "pingan.fieldwork",
    "pingan.tracking",
    "pingan.corrections",
    "pingan.dashboard",
    "pingan.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "pingan.core.middleware.RequestContextMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "pingan.core.middleware.ActorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "pingan.urls"
ASGI_APPLICATION = "pingan.asgi.application"
WSGI_APPLICATION = "pingan.wsgi.application"

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
                "django.template.context_processors.i18n",
                "pingan.web.context.navigation",
            ],
        },
    }
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'pingan.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Django's backend, with the write transactions of one process queueing on a lock instead of polling
    # SQLite's (pingan/core/sqlite/base.py: many request threads polling at once fail "database is locked").
    DATABASES["default"]["ENGINE"] = "pingan.core.sqlite"
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            # WAL lets the serving process read while a worker writes; IMMEDIATE avoids
            # "database is locked" upgrades from read to write transactions.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 10,  # seconds: the busy timeout, and the longest wait for a turn to write
        }
    )
    # The server's request threads are long-lived (pingan/asgi.py), so each keeps its connection: opening one
    # costs more than many a request, and closing the last one checkpoints the WAL.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("PINGAN_DB_CONN_MAX_AGE", default=600)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    # Served over ASGI, a request may run in a thread of its own, so persistent per-thread connections pile
    # up until PostgreSQL refuses more ("too many clients"); Django's docs say to disable them under ASGI and
    # pool instead. psycopg's pool (Django's OPTIONS["pool"]) keeps PINGAN_DB_POOL_MIN..MAX open connections.
    if env.bool("PINGAN_DB_POOL", default=True):
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": env.int("PINGAN_DB_POOL_MIN", default=2),
            "max_size": env.int("PINGAN_DB_POOL_MAX", default=20),
            "timeout": env.float("PINGAN_DB_POOL_TIMEOUT", default=10.0),
        }
        DATABASES["default"]["CONN_MAX_AGE"] = 0
    else:
        DATABASES["default"]["CONN_MAX_AGE"] = env.int("PINGAN_DB_CONN_MAX_AGE", default=0)
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
SERIALIZATION_MODULES = {"json": "pingan.core.serializers"}  # exact times in backups

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://pingan")}

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if PINGAN_ENV == "test":
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:login"

# Login throttling (django-axes): failures are counted per (username, address), so an attacker
# elsewhere cannot lock an officer out; the lock lifts by itself after the cool-off.
AXES_FAILURE_LIMIT = env.int("PINGAN_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("PINGAN_LOGIN_COOLOFF_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "pingan.web.views.locked_out"
AXES_VERBOSE = False
AXES_CLIENT_IP_CALLABLE = "pingan.core.middleware.client_ip"
# uvicorn rewrites REMOTE_ADDR from X-Forwarded-For only for these proxies (docs/operations.md).
PINGAN_FORWARDED_ALLOW_IPS = env.str("PINGAN_FORWARDED_ALLOW_IPS", default="127.0.0.1")

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "pingan" / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(env.str("PINGAN_STATIC_ROOT", default=str(VAR_DIR / "static")))
# Uploaded files (event attachments, person photos): the local folder MEDIA_ROOT, or with
# PINGAN_MEDIA_STORAGE=s3 a bucket on any S3-compatible store (MinIO, Ceph, a cloud's OSS) through
# django-storages. Either way they are private: no URL is handed out, the API streams them after its
# access check.


def s3_storage(**options: Any) -> dict[str, Any]:
    """The STORAGES entry for a bucket on an S3-compatible store: objects private, reached only by signed
    requests, never overwritten (django-storages' ``S3Storage``)."""
    if importlib.util.find_spec("storages") is None or importlib.util.find_spec("boto3") is None:
        raise ImproperlyConfigured("PINGAN_MEDIA_STORAGE=s3 needs the s3 extra: pip install 'pingan[s3]'")
    defaults = {"default_acl": "private", "querystring_auth": True, "file_overwrite": False, "addressing_style": "path"}
    return {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {**defaults, **options}}


PINGAN_MEDIA_STORAGE = env.str("PINGAN_MEDIA_STORAGE", default="local")
if PINGAN_MEDIA_STORAGE == "local":
    _MEDIA_STORAGE: dict[str, Any] = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
elif PINGAN_MEDIA_STORAGE == "s3":
    _MEDIA_STORAGE = s3_storage(
        bucket_name=env.str("PINGAN_S3_BUCKET"),
        endpoint_url=env.str("PINGAN_S3_ENDPOINT_URL", default="") or None,
        region_name=env.str("PINGAN_S3_REGION", default="") or None,
        access_key=env_secret("PINGAN_S3_ACCESS_KEY"),
        secret_key=env_secret("PINGAN_S3_SECRET_KEY"),
        location=env.str("PINGAN_S3_PREFIX", default=""),
        addressing_style=env.str("PINGAN_S3_ADDRESSING", default="path"),
    )
else:
    raise ImproperlyConfigured(f"PINGAN_MEDIA_STORAGE must be local or s3, not {PINGAN_MEDIA_STORAGE!r}")
STORAGES = {
    "default": _MEDIA_STORAGE,
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION
if not PRODUCTION:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)


def _package_static(package: str, *parts: str) -> Path:
    """The static folder shipped inside a PyPI package (found without importing the package)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ImproperlyConfigured(f"package {package} is not installed")
    return Path(next(iter(spec.submodule_search_locations)), *parts)


# Leaflet comes from the django-leaflet package's files; its Django app is not installed, because
# that app imports GeoDjango (and so GDAL), which Pingan does not use.
STATICFILES_DIRS = [("leaflet", _package_static("leaflet", "static", "leaflet"))]
MEDIA_ROOT = Path(env.str("PINGAN_MEDIA_ROOT", default=str(VAR_DIR / "media")))
MEDIA_URL = "/media/"

# Behind a reverse proxy that terminates HTTPS (see docs/operations.md).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env.int("PINGAN_SESSION_SECONDS", default=8 * 3600)
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SECURE_SSL_REDIRECT = env.bool("PINGAN_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("PINGAN_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("PINGAN_HSTS_PRELOAD", default=False)
    SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("PINGAN_LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# Leaflet: no tile layer by default (sites may be offline); set PINGAN_TILE_URL to add one.
PINGAN_TILE_URL = env.str("PINGAN_TILE_URL", default="")
PINGAN_TILE_ATTRIBUTION = env.str("PINGAN_TILE_ATTRIBUTION", default="")

# Platform knobs.
PINGAN_API_TOKEN_DAYS = env.int("PINGAN_API_TOKEN_DAYS", default=90)
PINGAN_INDEX_CHECK_SECONDS = env.float("PINGAN_INDEX_CHECK_SECONDS", default=1.0)
PINGAN_WORKER_TICK_SECONDS = env.float("PINGAN_WORKER_TICK_SECONDS", default=1.0)
PINGAN_AREA_CHILD_TOLERANCE_M = env.float("PINGAN_AREA_CHILD_TOLERANCE_M", default=5.0)

# Events: working hours for working-time limits ("08:30-12:00,13:30-17:30"; empty = deadlines.WORK_HOURS)
PINGAN_WORK_HOURS = env.str("PINGAN_WORK_HOURS", default="")
PINGAN_EVENT_REOPEN_DAYS = env.int("PINGAN_EVENT_REOPEN_DAYS", default=30)
# An Idempotency-Key answers retries for this many days; the hourly events.idempotency_expiry job drops older keys
PINGAN_IDEMPOTENCY_DAYS = env.int("PINGAN_IDEMPOTENCY_DAYS", default=7)
PINGAN_PUBLIC_REPORTS_PER_HOUR = env.int("PINGAN_PUBLIC_REPORTS_PER_HOUR", default=10)  # per address and per phone
PINGAN_EVENT_CONFIG_SECONDS = env.float("PINGAN_EVENT_CONFIG_SECONDS", default=10.0)  # cached types, rules, workstations
PINGAN_UPLOAD_MAX_BYTES = env.int("PINGAN_UPLOAD_MAX_BYTES", default=10 * 1024 * 1024)
# Notifications: outbound channels (console, email, webhook, sms)
PINGAN_NOTIFY_CHANNELS = env.list("PINGAN_NOTIFY_CHANNELS", default=["console"])
PINGAN_WEBHOOK_URL = env.str("PINGAN_WEBHOOK_URL", default="")
PINGAN_WEBHOOK_SECRET = env_secret("PINGAN_WEBHOOK_SECRET") or ""
PINGAN_WEBHOOK_TIMEOUT = env.float("PINGAN_WEBHOOK_TIMEOUT", default=10.0)
PINGAN_DASHBOARD_REFRESH_DAYS = env.int("PINGAN_DASHBOARD_REFRESH_DAYS", default=40)
# Email for the email channel: EMAIL_URL, e.g. smtp+tls://user:password@mail.example.cn:587
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("PINGAN_FROM_EMAIL", default="pingan@localhost")
PINGAN_SMS_GATEWAY = env.str("PINGAN_SMS_GATEWAY", default="pingan.events.channels.SmsGateway")

NINJA_PAGINATION_PER_PAGE = 50
# Tracking (docs/modules/tracking.md)
PINGAN_TRACKING_BATCH_MAX = env.int("PINGAN_TRACKING_BATCH_MAX", default=5000)  # fixes per HTTP request or message
PINGAN_TRACKING_RETENTION_DAYS = env.int("PINGAN_TRACKING_RETENTION_DAYS", default=30)  # raw fixes kept
PINGAN_TRACKING_OLD_FIXES = env.str("PINGAN_TRACKING_OLD_FIXES", default="thin")  # thin | drop, past the retention
PINGAN_TRACKING_THIN_SECONDS = env.int("PINGAN_TRACKING_THIN_SECONDS", default=300)  # one fix per target per this
PINGAN_TRACKING_FUTURE_SECONDS = env.int("PINGAN_TRACKING_FUTURE_SECONDS", default=300)  # device clocks ahead
# Positions the law lets in without a monitoring authorisation (the subject's own check-ins, follow-code
# scans, the carrier network's cell positions, the phone's network position during a phone check): accepted
# and stored while a target's monitoring is off; the engine still runs no rule on them.
PINGAN_TRACKING_SOURCES_WITHOUT_AUTHORISATION = env.list("PINGAN_TRACKING_SOURCES_WITHOUT_AUTHORISATION",
                                                         default=["scan", "checkin", "carrier", "phonecheck"])
PINGAN_SERVE_WORKERS = env.int("PINGAN_SERVE_WORKERS", default=0)  # pingan serve processes; 0: 1 on SQLite, the cores on PG
PINGAN_SERVE_THREADS = env.int("PINGAN_SERVE_THREADS", default=8)  # request threads per server process (pingan/asgi.py)
PINGAN_ALERT_VERIFY_MINUTES = env.int("PINGAN_ALERT_VERIFY_MINUTES", default=15)
PINGAN_ALERT_EVENT_TYPE = env.str("PINGAN_ALERT_EVENT_TYPE", default="public-order-key-persons")
PINGAN_MQTT_URL = env.str("PINGAN_MQTT_URL", default="")  # mqtt://user:pass@host:1883 — the worker subscribes
PINGAN_STREAM_URL = env.str("PINGAN_STREAM_URL", default="")  # nats://host:4222 — fixes go through JetStream
PINGAN_STREAM_PARTITIONS = env.int("PINGAN_STREAM_PARTITIONS", default=8)
PINGAN_STREAM_NAME = env.str("PINGAN_STREAM_NAME", default="PINGAN_FIXES")
PINGAN_STREAM_SUBJECT = env.str("PINGAN_STREAM_SUBJECT", default="pingan.fixes")  # subjects <this>.<partition>
PINGAN_MQTT_CLIENT_ID = env.str("PINGAN_MQTT_CLIENT_ID", default="pingan-worker")  # its persistent session
PINGAN_MQTT_TOPIC = env.str("PINGAN_MQTT_TOPIC", default="pingan/fixes")  # devices publish to <this>/<device uid>
PINGAN_MQTT_CA_FILE = env.str("PINGAN_MQTT_CA_FILE", default="")  # mqtts://: CA bundle (default: the system's)
PINGAN_CONSUMER_LEASE_SECONDS = env.float("PINGAN_CONSUMER_LEASE_SECONDS", default=12.0)  # MQTT subscription, stream partitions
# The demo moves its tracked targets every 30 s (only with PINGAN_ENV=demo).
PINGAN_DEMO_FEED = env.bool("PINGAN_DEMO_FEED", default=PINGAN_ENV == "demo")

# Corrections (docs/modules/corrections.md): follow-code keys, the first signs and all verify (default: one key
# derived from PINGAN_SIGNING_KEY); seconds per code (at most 60); typed short codes per scanner per minute.
PINGAN_FOLLOWCODE_KEYS = env.list("PINGAN_FOLLOWCODE_KEYS", default=[])
PINGAN_FOLLOWCODE_SECONDS = env.int("PINGAN_FOLLOWCODE_SECONDS", default=60)
PINGAN_FOLLOWCODE_TYPED_PER_MINUTE = env.int("PINGAN_FOLLOWCODE_TYPED_PER_MINUTE", default=10)
# Corrections, leave and boundary: leave the judicial office may approve (days), the longest leave (days), hours
# after a leave's end before a subject who has not reported back is overdue; the share of a position's accuracy
# circle outside the permitted area that counts as outside; the accuracy (m) under which a position is precise.
PINGAN_CORRECTIONS_LEAVE_OFFICE_MAX_DAYS = env.int("PINGAN_CORRECTIONS_LEAVE_OFFICE_MAX_DAYS", default=7)
PINGAN_CORRECTIONS_LEAVE_MAX_DAYS = env.int("PINGAN_CORRECTIONS_LEAVE_MAX_DAYS", default=30)
PINGAN_CORRECTIONS_LEAVE_GRACE_HOURS = env.float("PINGAN_CORRECTIONS_LEAVE_GRACE_HOURS", default=12)
PINGAN_CORRECTIONS_BOUNDARY_SHARE = env.float("PINGAN_CORRECTIONS_BOUNDARY_SHARE", default=0.5)
PINGAN_CORRECTIONS_PRECISE_M = env.float("PINGAN_CORRECTIONS_PRECISE_M", default=100)
# Corrections, carrier feed: rows per batch.
PINGAN_CORRECTIONS_CARRIER_BATCH_MAX = env.int("PINGAN_CORRECTIONS_CARRIER_BATCH_MAX", default=5000)
# Phone checks (智能电话核查): checks per level ("N/day" or "N/week"), the daily call hours (Asia/Shanghai, end
# exclusive; never at night unless widened), retries of an unanswered or failed call and the minutes between,
# the telephony provider (default: the simulator) and the simulator's seed.
PINGAN_CORRECTIONS_PHONE_CHECKS = env.dict("PINGAN_CORRECTIONS_PHONE_CHECKS",
                                           default={"strict": "3/day", "ordinary": "1/day", "lenient": "1/week"})
PINGAN_CORRECTIONS_PHONE_CHECK_HOURS = env.str("PINGAN_CORRECTIONS_PHONE_CHECK_HOURS", default="8-21")
PINGAN_CORRECTIONS_PHONE_CHECK_RETRIES = env.int("PINGAN_CORRECTIONS_PHONE_CHECK_RETRIES", default=2)
PINGAN_CORRECTIONS_PHONE_CHECK_RETRY_MINUTES = env.int("PINGAN_CORRECTIONS_PHONE_CHECK_RETRY_MINUTES", default=5)
PINGAN_TELEPHONY = env.str("PINGAN_TELEPHONY", default="simulator")
PINGAN_TELEPHONY_SEED = env.str("PINGAN_TELEPHONY_SEED", default="pingan")
# Lost contact (失联): hours without any position and without an answered phone check.
PINGAN_CORRECTIONS_LOST_CONTACT_HOURS = env.float("PINGAN_CORRECTIONS_LOST_CONTACT_HOURS", default=24.0)
# Faked positions: a jump between two positions faster than this (beyond both accuracies) is flagged.
PINGAN_CORRECTIONS_FAKE_SPEED_KMH = env.float("PINGAN_CORRECTIONS_FAKE_SPEED_KMH", default=200.0)
# Core-area reverse warnings: minutes to verify a warning (a core area may set its own), the share of a coarse
# position's accuracy circle inside a core area that raises a possible-entry warning, the event type escalation opens.
PINGAN_CORRECTIONS_VERIFY_MINUTES = env.int("PINGAN_CORRECTIONS_VERIFY_MINUTES", default=15)
PINGAN_CORRECTIONS_POSSIBLE_ENTRY_SHARE = env.float("PINGAN_CORRECTIONS_POSSIBLE_ENTRY_SHARE", default=0.5)
PINGAN_CORRECTIONS_EVENT_TYPE = env.str("PINGAN_CORRECTIONS_EVENT_TYPE", default="public-order-key-persons")

PINGAN_SITE_NAME = _("Pingan")
