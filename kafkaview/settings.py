"""Django settings for kafkaview, read from the environment (see README's table)."""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from dashboard.access.rules import AccessConfigError, access_load
from dashboard.alerts.rules import NO_RULES, AlertConfigError, alerts_load
from dashboard.auth.config import LOCAL_ONLY, AuthConfigError, auth_load
from dashboard.kafka.config import clusters_from_env
from dashboard.kafka.errors import ClusterConfigError
from kafkaview.env import (
    EnvError,
    env_bool,
    env_choice,
    env_duration,
    env_float,
    env_int,
    env_list,
    env_path,
    env_str,
    env_tiers,
)

BASE_DIR = Path(__file__).resolve().parent.parent
ENV = os.environ


class StartupError(ImproperlyConfigured):
    """A bad environment variable or configuration file; its message is already on stderr."""


def _stop(problem: str) -> StartupError:
    """Say what is wrong on stderr (manage.py then exits without a traceback)."""
    # Django imports the settings again after a failed first import: say it once.
    said: set[str] = sys.__dict__.setdefault("_kafkaview_startup_said", set())
    if "pytest" not in sys.modules and problem not in said:
        said.add(problem)
        sys.stderr.write(f"kafkaview: {problem}\n")
    return StartupError(problem)


# Every value read from the environment is checked here, once; a bad one stops start-up
# with the variable and the value. Each default is written here and nowhere else.
try:
    DEBUG = env_bool(ENV, "DJANGO_DEBUG", False)
    # Git-ignored folder for the secret key, the test database and the Kafka jars.
    KAFKAVIEW_CACHE_DIR = env_path(ENV, "KAFKAVIEW_CACHE_DIR", BASE_DIR / ".cache")
    SECRET_KEY = env_str(ENV, "DJANGO_SECRET_KEY", "")
    ALLOWED_HOSTS = env_list(ENV, "DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost")
    CSRF_TRUSTED_ORIGINS = env_list(ENV, "DJANGO_CSRF_TRUSTED_ORIGINS", "")
    DATABASE_URL = env_str(ENV, "DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
    KAFKAVIEW_LOG_LEVEL = env_choice(
        ENV, "KAFKAVIEW_LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
    )
    # Where `make run` serves.
    KAFKAVIEW_HOST = env_str(ENV, "KAFKAVIEW_HOST", "127.0.0.1")
    KAFKAVIEW_PORT = env_int(ENV, "KAFKAVIEW_PORT", 8000, minimum=1, maximum=65535)
    # Seconds one Kafka request may take before the cluster is reported as down.
    KAFKAVIEW_REQUEST_TIMEOUT = env_float(ENV, "KAFKAVIEW_REQUEST_TIMEOUT", 3.0, above=0)
    # Seconds a page's Kafka read may be shared with other viewers of the same page (0: off).
    KAFKAVIEW_READ_MAX_AGE = env_float(ENV, "KAFKAVIEW_READ_MAX_AGE", 1.0, minimum=0)
    # Daphne processes `make run` starts on its port: one uses one core at most (the GIL).
    # Each keeps its own shared reads, so Kafka sees up to this many readers of a page.
    KAFKAVIEW_WEB_PROCESSES = env_int(ENV, "KAFKAVIEW_WEB_PROCESSES", 2, minimum=1, maximum=64)
    # Requests one web process runs Django code for at once; more wait their turn (at
    # most a second). One process uses one core at most: for more, run more processes.
    KAFKAVIEW_WEB_THREADS = env_int(ENV, "KAFKAVIEW_WEB_THREADS", 4, minimum=1, maximum=256)
    # Seconds a web process may reuse a session it read (a logout made through another
    # process is seen within this; 0: read the database on every request).
    KAFKAVIEW_SESSION_CACHE = env_float(ENV, "KAFKAVIEW_SESSION_CACHE", 2.0, minimum=0)
    # Turns off producing and offset resets for everyone.
    KAFKAVIEW_READ_ONLY = env_bool(ENV, "KAFKAVIEW_READ_ONLY", False)
    # Lag history: seconds between the sampler's rounds, samples in a status window, days kept.
    KAFKAVIEW_SAMPLE_INTERVAL = env_float(ENV, "KAFKAVIEW_SAMPLE_INTERVAL", 10.0, above=0)
    KAFKAVIEW_STATUS_WINDOW = env_int(ENV, "KAFKAVIEW_STATUS_WINDOW", 10, minimum=2)
    KAFKAVIEW_HISTORY_RETENTION_DAYS = env_float(
        ENV, "KAFKAVIEW_HISTORY_RETENTION_DAYS", 90.0, above=0
    )
    # Every sample is kept this long, then folded into the tiers (bucket:kept, coarser each).
    KAFKAVIEW_HISTORY_RAW = env_duration(ENV, "KAFKAVIEW_HISTORY_RAW", "6h")
    KAFKAVIEW_HISTORY_TIERS = env_tiers(ENV, "KAFKAVIEW_HISTORY_TIERS", "1m:7d,10m:90d")
    # Memory all the tails of one web process may hold for slow readers, in MiB; past it
    # tails stop fetching until their readers catch up (nothing is dropped).
    KAFKAVIEW_TAIL_MEMORY_MB = env_int(ENV, "KAFKAVIEW_TAIL_MEMORY_MB", 16, minimum=1)
    # Tails and searches one user may have open in one web process, and all users together.
    KAFKAVIEW_TAILS_PER_USER = env_int(ENV, "KAFKAVIEW_TAILS_PER_USER", 10, minimum=1)
    KAFKAVIEW_TAILS_PER_PROCESS = env_int(ENV, "KAFKAVIEW_TAILS_PER_PROCESS", 200, minimum=1)
    # Seconds between a tail socket's re-reads of its session, user and scope (a logout,
    # a deactivation or a changed rule closes it); every start re-reads them too.
    KAFKAVIEW_SOCKET_RECHECK = env_float(ENV, "KAFKAVIEW_SOCKET_RECHECK", 60.0, above=0)
    # HTTPS mode, for a dashboard behind a TLS proxy: Secure cookies, HSTS, redirects to
    # https and the proxy's X-Forwarded-Proto trusted (README "Security").
    KAFKAVIEW_HTTPS = env_bool(ENV, "KAFKAVIEW_HTTPS", False)
    # Failed logins (per user name and address) before further attempts are refused, and
    # for how many minutes (django-axes; 429 meanwhile).
    KAFKAVIEW_LOGIN_FAILURES = env_int(ENV, "KAFKAVIEW_LOGIN_FAILURES", 5, minimum=1)
    KAFKAVIEW_LOGIN_LOCKOUT_MINUTES = env_float(
        ENV, "KAFKAVIEW_LOGIN_LOCKOUT_MINUTES", 15.0, above=0
    )
    # A bearer token Prometheus may use for /metrics; without it, /metrics needs a login.
    KAFKAVIEW_METRICS_TOKEN = env_str(ENV, "KAFKAVIEW_METRICS_TOKEN", "")
except EnvError as exc:
    raise _stop(f"bad environment variable: {exc}") from None

try:
    KAFKAVIEW_CLUSTERS = clusters_from_env(ENV)
except ClusterConfigError as exc:
    # Stop start-up with the file, key and problem, not a traceback through settings.
    raise _stop(f"bad cluster configuration: {exc}") from None

try:
    # Scoped roles and masks (dashboard/access/); None: every logged-in user sees everything
    # and the two write permissions decide who produces and resets, as before.
    _access_file = env_str(ENV, "KAFKAVIEW_ACCESS_FILE", "")
    KAFKAVIEW_ACCESS = access_load(_access_file) if _access_file else None
except EnvError as exc:
    raise _stop(f"bad environment variable: {exc}") from None
except AccessConfigError as exc:
    raise _stop(f"bad access rules: {exc}") from None

try:
    # Alert rules and receivers (dashboard/alerts/); none: nobody is told anything.
    _alerts_file = env_str(ENV, "KAFKAVIEW_ALERTS_FILE", "")
    KAFKAVIEW_ALERTS = alerts_load(_alerts_file) if _alerts_file else NO_RULES
    # Links in notifications point here.
    KAFKAVIEW_PUBLIC_URL = env_str(ENV, "KAFKAVIEW_PUBLIC_URL", "http://127.0.0.1:8000")
    # Email receivers: an SMTP server (its password only from the environment).
    KAFKAVIEW_SMTP = {
        "host": env_str(ENV, "KAFKAVIEW_SMTP_HOST", ""),
        "port": env_int(ENV, "KAFKAVIEW_SMTP_PORT", 25, minimum=1),
        "tls": env_choice(ENV, "KAFKAVIEW_SMTP_TLS", "none", ("none", "starttls", "ssl")),
        "user": env_str(ENV, "KAFKAVIEW_SMTP_USER", ""),
        "password": env_str(ENV, "KAFKAVIEW_SMTP_PASSWORD", ""),
        "from": env_str(ENV, "KAFKAVIEW_SMTP_FROM", "kafkaview@localhost"),
    }
except EnvError as exc:
    raise _stop(f"bad environment variable: {exc}") from None
except AlertConfigError as exc:
    raise _stop(f"bad alert rules: {exc}") from None

try:
    # Sign-in (dashboard/auth/): OIDC, LDAP and the IdP-group mapping; none: local accounts.
    _auth_file = env_str(ENV, "KAFKAVIEW_AUTH_FILE", "")
    KAFKAVIEW_AUTH = auth_load(_auth_file) if _auth_file else LOCAL_ONLY
    # The secrets, only from the environment (never in a file that may be committed).
    KAFKAVIEW_OIDC_CLIENT_SECRET = env_str(ENV, "KAFKAVIEW_OIDC_CLIENT_SECRET", "")
    KAFKAVIEW_LDAP_BIND_PASSWORD = env_str(ENV, "KAFKAVIEW_LDAP_BIND_PASSWORD", "")
except EnvError as exc:
    raise _stop(f"bad environment variable: {exc}") from None
except AuthConfigError as exc:
    raise _stop(f"bad sign-in configuration: {exc}") from None
if KAFKAVIEW_AUTH.oidc is not None and not KAFKAVIEW_OIDC_CLIENT_SECRET:
    raise _stop(
        f"bad sign-in configuration: {KAFKAVIEW_AUTH.source}: oidc.client_id: its secret is "
        "missing: set KAFKAVIEW_OIDC_CLIENT_SECRET"
    )
if (
    KAFKAVIEW_AUTH.ldap is not None
    and KAFKAVIEW_AUTH.ldap.bind_dn
    and not KAFKAVIEW_LDAP_BIND_PASSWORD
):
    raise _stop(
        f"bad sign-in configuration: {KAFKAVIEW_AUTH.source}: ldap.bind_dn: its password is "
        "missing: set KAFKAVIEW_LDAP_BIND_PASSWORD"
    )


def _secret_key_file(key_file: Path) -> str:
    """The key in the file, made first if missing: created 0600 and complete, atomically.

    Written to a private temporary file, then linked into place (link fails if another
    process won the race; its key is used): the key is never readable by others, nor
    ever read half-written.
    """
    key_file.parent.mkdir(parents=True, exist_ok=True)
    if not key_file.exists():
        tmp = key_file.with_name(f".{key_file.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(50))
            with contextlib.suppress(FileExistsError):
                os.link(tmp, key_file)
        finally:
            tmp.unlink(missing_ok=True)
    return key_file.read_text().strip()


if not SECRET_KEY:
    # A per-machine key kept in the git-ignored cache, so sessions survive restarts
    # of `make run` without anyone having to invent a key for local use.
    SECRET_KEY = _secret_key_file(KAFKAVIEW_CACHE_DIR / "secret_key")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.humanize",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "axes",
    "dashboard",
    # Development tools (local broker, demo traffic, `make run`): management commands only.
    "devtools",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "dashboard.web.sessions.AuthenticationMiddleware",
    "dashboard.web.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "dashboard.web.middleware.KafkaErrorMiddleware",
    "dashboard.writes.generation.WriteGenerationMiddleware",
    # Last, as django-axes asks: it answers a locked-out login attempt with 429.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    # Refuses logins for a user name and address after KAFKAVIEW_LOGIN_FAILURES failures.
    "axes.backends.AxesStandaloneBackend",
    *(["django.contrib.auth.backends.ModelBackend"] if KAFKAVIEW_AUTH.password_login else []),
    *(["dashboard.auth.ldap.LdapBackend"] if KAFKAVIEW_AUTH.ldap else []),
    *(["dashboard.auth.oidc.OidcBackend"] if KAFKAVIEW_AUTH.oidc else []),
]
# Permissions of users who log in through LDAP or OIDC come from their Django groups, which
# only ModelBackend answers: it stays listed for has_perm, and refuses their passwords
# (their accounts have none) when password_login is off.
if "django.contrib.auth.backends.ModelBackend" not in AUTHENTICATION_BACKENDS:
    AUTHENTICATION_BACKENDS.append("dashboard.auth.sync.PermissionsBackend")
AXES_FAILURE_LIMIT = KAFKAVIEW_LOGIN_FAILURES
AXES_COOLOFF_TIME = KAFKAVIEW_LOGIN_LOCKOUT_MINUTES / 60  # hours
# The pair, not either: one address cannot lock everyone's account, nor one user name
# everyone's address.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False  # its own log line at each attempt; the lockout is logged below

# The pages load only their own scripts and styles (no inline code, no other origin).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
if KAFKAVIEW_AUTH.oidc is not None:
    # Logging out is a form posted here and redirected to the provider's end_session
    # endpoint; browsers hold form-action to the redirect's target too.
    _issuer = KAFKAVIEW_AUTH.oidc.issuer.split("/")
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["form-action"].append("/".join(_issuer[:3]))

ROOT_URLCONF = "kafkaview.urls"

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
                "dashboard.web.context_processors.clusters",
            ],
        },
    },
]

ASGI_APPLICATION = "kafkaview.asgi.application"
WSGI_APPLICATION = None

DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not :memory:, so a Daphne process started by the tests sees the test data.
    DATABASES["default"]["TEST"] = {
        "NAME": env_str(ENV, "DJANGO_TEST_DB", str(KAFKAVIEW_CACHE_DIR / "test-db.sqlite3"))
    }
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
    # Lag history is stored as blobs of 1-16 KB rewritten every round: in SQLite's default
    # 4 KB pages such rows leave ~40% of each page empty, in 16 KB pages ~20% (bench/sampler.py).
    # Applies when the file is created; an existing database keeps its page size.
    DATABASES["default"]["OPTIONS"]["init_command"] = "PRAGMA page_size=16384"

CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# WhiteNoise warns at every start when the folder is missing; collectstatic fills it for production.
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [
    BASE_DIR / "static",
    # uPlot from npm (package.json; `make setup` runs npm ci).
    ("vendor/uplot", BASE_DIR / "node_modules" / "uplot" / "dist"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve static files straight from the finders, so `make run` needs no collectstatic.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

SESSION_ENGINE = "dashboard.web.sessions"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

if KAFKAVIEW_HTTPS:
    # Behind a TLS proxy that sets X-Forwarded-Proto (and strips a client's own).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = 31_536_000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    # /healthz answers plain HTTP probes from the load balancer, not a redirect.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    # HSTS preloading commits the whole domain to browsers' lists for months: a decision
    # for the domain's owner, not a default of one application on it.
    SILENCED_SYSTEM_CHECKS = ["security.W021"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": KAFKAVIEW_LOG_LEVEL},
    "loggers": {
        "django.channels.server": {"level": "WARNING"},
        # The Schema Registry client's HTTP library logs every request at INFO.
        "httpx2": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        # django-axes logs every login at INFO; lockouts are logged by dashboard/apps.py.
        "axes": {"level": "WARNING"},
    },
}
