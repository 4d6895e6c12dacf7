"""Every setting of the service, read from the environment with a documented default.

This is the one place that knows setting names. ``SETTINGS`` is also the source of the
configuration table in the README (a test keeps the two in step).
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.fernet import Fernet


class ConfigError(RuntimeError):
    """The configuration cannot run safely; the message says which setting and why."""


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    help: str
    parse: Callable[[str], Any] = str
    # True when the default depends on the machine (the instance folder, a generated secret)
    # and is filled in by ``load`` rather than parsed from ``default``.
    computed: bool = False


def _int(value: str) -> int:
    return int(value)


def _bool(value: str) -> bool:
    if value.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if value.strip().lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"expected true or false, got {value!r}")


def _positive_int(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise ConfigError(f"expected a positive number of seconds, got {value!r}")
    return number


def _push_mode(value: str) -> str:
    mode = value.strip().lower()
    if mode not in ("auto", "on", "off"):
        raise ConfigError(f"PUSH_NOTIFICATIONS must be auto, on or off, got {value!r}")
    return mode


def _tasks_target(value: str) -> str:
    target = value.strip().lower()
    if target not in ("appengine", "http"):
        raise ConfigError(f"CLOUD_TASKS_TARGET must be appengine or http, got {value!r}")
    return target


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "APP_ENGINE_CRON",
        "false",
        "Let App Engine's cron run the cycle through `/tasks/tick` (set `true` in `app.yaml`; "
        "elsewhere run `calendar-sync worker`). Honoured only on App Engine itself.",
        _bool,
    ),
    Setting(
        "DATABASE_URL",
        "sqlite:///<instance>/calendar_sync.sqlite3",
        "SQLAlchemy URL of the database; `postgresql+psycopg://user:pass@host/db` for Postgres.",
        computed=True,
    ),
    Setting(
        "SECRET_KEY",
        "generated into `<instance>/secret_key`",
        "Signs the dashboard's cookies and the links in emails.",
        computed=True,
    ),
    Setting(
        "TOKEN_ENCRYPTION_KEYS",
        "generated into `<instance>/token_keys`",
        "Comma-separated Fernet keys for Google tokens at rest; the first encrypts, all decrypt "
        "(to retire a key: put a new one first, run `calendar-sync keys rotate`, remove the old).",
        computed=True,
    ),
    Setting(
        "PUBLIC_URL",
        "http://127.0.0.1:5000",
        "Address people and Google reach the service at. Plain HTTP only on a loopback address.",
    ),
    Setting(
        "GOOGLE_CLIENT_SECRETS",
        "<instance>/client_secret.json",
        "OAuth client JSON as downloaded from Google Cloud Console; its `auth_uri` and "
        "`token_uri` are used as given.",
        computed=True,
    ),
    Setting(
        "GOOGLE_API_ROOT",
        "https://www.googleapis.com/",
        "Root of Google's APIs: Calendar at `<root>calendar/v3/`, Gmail at `<root>gmail/v1/`, "
        "user info at `<root>oauth2/v2/userinfo`. The sandbox's address in the demo and tests.",
    ),
    Setting(
        "ADDON_AUDIENCE",
        "",
        "Audience of the ID token Google signs for each request to the Calendar add-on "
        "(`/addon/`); empty: the endpoint's own URL under `PUBLIC_URL`, as Google sends it.",
    ),
    Setting(
        "ADDON_CLIENT_ID",
        "",
        "OAuth client id the add-on user's ID token (`userIdToken`) is issued to; empty: "
        "the `client_id` of `GOOGLE_CLIENT_SECRETS`.",
    ),
    Setting("LOG_LEVEL", "INFO", "Level of the service's log (`DEBUG`, `INFO`, `WARNING`)."),
    Setting(
        "PUSH_NOTIFICATIONS",
        "auto",
        "Google push notifications for calendar changes: `on`, `off`, or `auto` (on when "
        "`PUBLIC_URL` is HTTPS or `GOOGLE_API_ROOT` is a loopback address). Polling always runs.",
        _push_mode,
    ),
    Setting(
        "POLL_INTERVAL_SECONDS",
        "900",
        "A selected calendar is synced by the cycle when its last sync is older than this "
        "(push notifications sync sooner).",
        _positive_int,
    ),
    Setting(
        "THERAPIST_LEASE_SECONDS",
        "120",
        "How long a worker's claim on one therapist's work lasts without renewal; a live "
        "worker renews it every third of that, so this is how long a dead worker's therapists "
        "wait before another worker takes them over.",
        _positive_int,
    ),
    Setting(
        "CLOUD_TASKS_QUEUE",
        "",
        "Cloud Tasks queue (`projects/P/locations/L/queues/Q`) that fans the cycle out: cron's "
        "`/tasks/dispatch` enqueues one task per due therapist, and push notifications become "
        "tasks. Empty: one process does the work (`calendar-sync worker`). See "
        "[docs/deploy.md](docs/deploy.md).",
    ),
    Setting(
        "CLOUD_TASKS_TARGET",
        "appengine",
        "Where tasks call the service: `appengine` (App Engine handlers, trusted by the "
        "`X-AppEngine-*` headers App Engine strips from outside requests) or `http` "
        "(`PUBLIC_URL`, each call carrying a Google-signed OIDC token).",
        _tasks_target,
    ),
    Setting(
        "CLOUD_TASKS_SERVICE_ACCOUNT",
        "",
        "With `http` targets: the service account whose OIDC token Cloud Tasks sends; a "
        "handler accepts only a token for that account with `PUBLIC_URL` as its audience.",
    ),
    Setting(
        "PATIENT_LINK_DAYS",
        "14",
        "Days a link sent to a patient (choose a new time, what got in the way, I will get in "
        "touch) keeps working; each link works once.",
        _positive_int,
    ),
    Setting(
        "MAIL_BACKEND",
        "gmail",
        "How emails leave: `gmail` (from the therapist's own Gmail, so replies reach them), "
        "`smtp` (a practice mail server, settings below) or `dev` (kept in the database and "
        "shown on the dashboard; nothing leaves the machine).",
    ),
    Setting("SMTP_HOST", "", "Mail server for `MAIL_BACKEND=smtp` (required then)."),
    Setting("SMTP_PORT", "587", "Port of the mail server.", _positive_int),
    Setting("SMTP_USERNAME", "", "User name on the mail server; empty to send without login."),
    Setting("SMTP_PASSWORD", "", "Password on the mail server."),
    Setting(
        "SMTP_STARTTLS",
        "true",
        "Upgrade the connection with STARTTLS before logging in (`true`/`false`).",
        _bool,
    ),
    Setting(
        "SMTP_FROM",
        "",
        "The practice address emails come from with `smtp` (required then); replies go to the "
        "therapist (Reply-To).",
    ),
)

MAIL_BACKENDS = ("gmail", "smtp", "dev")


def load(environ: Mapping[str, str], instance_path: Path) -> dict[str, Any]:
    """Read every setting from ``environ``, generating development secrets on first use.

    :raises ConfigError: when a value is unusable (for example plain HTTP on a public address).
    """
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = environ.get(setting.name)
        if raw is not None and raw != "":
            values[setting.name] = setting.parse(raw)
    values.setdefault("DATABASE_URL", f"sqlite:///{instance_path / 'calendar_sync.sqlite3'}")
    values.setdefault("GOOGLE_CLIENT_SECRETS", str(instance_path / "client_secret.json"))
    for setting in SETTINGS:
        if not setting.computed:
            values.setdefault(setting.name, setting.parse(setting.default))
    if "SECRET_KEY" not in values:
        values["SECRET_KEY"] = _generated(instance_path / "secret_key", secrets.token_urlsafe)
    if "TOKEN_ENCRYPTION_KEYS" not in values:
        values["TOKEN_ENCRYPTION_KEYS"] = _generated(
            instance_path / "token_keys", lambda _n: Fernet.generate_key().decode()
        )
    return values


def finish(config: dict[str, Any]) -> None:
    """Check the merged configuration and derive what follows from it.

    :raises ConfigError: on a setting the service must not run with.
    """
    public = urlsplit(config["PUBLIC_URL"])
    if public.scheme not in ("http", "https") or not public.hostname:
        raise ConfigError(f"PUBLIC_URL must be an http(s) address, got {config['PUBLIC_URL']!r}")
    # OAuth over plain HTTP is only acceptable where nothing leaves the machine.
    config["OAUTH_ALLOW_HTTP"] = public.scheme == "http"
    if public.scheme == "http" and not is_loopback(public.hostname):
        raise ConfigError(
            "PUBLIC_URL uses plain HTTP on a non-loopback address; "
            "Google sign-in needs HTTPS there (use https://, or 127.0.0.1 for development)"
        )
    config["PUBLIC_URL"] = config["PUBLIC_URL"].rstrip("/")
    root = config["GOOGLE_API_ROOT"]
    config["GOOGLE_API_ROOT"] = root if root.endswith("/") else root + "/"
    keys = [k.strip() for k in str(config["TOKEN_ENCRYPTION_KEYS"]).split(",") if k.strip()]
    for key in keys:
        try:
            Fernet(key)
        except (ValueError, TypeError) as exc:
            raise ConfigError("TOKEN_ENCRYPTION_KEYS holds a key that is not a Fernet key") from exc
    if not keys:
        raise ConfigError("TOKEN_ENCRYPTION_KEYS is empty")
    config["TOKEN_ENCRYPTION_KEYS"] = keys
    _check_mail(config)
    _check_tasks(config)


_QUEUE = re.compile(r"projects/[^/]+/locations/[^/]+/queues/[A-Za-z0-9-]{1,100}")


def _check_tasks(config: dict[str, Any]) -> None:
    queue = config.get("CLOUD_TASKS_QUEUE") or ""
    if queue and not _QUEUE.fullmatch(queue):
        raise ConfigError("CLOUD_TASKS_QUEUE must be projects/P/locations/L/queues/Q")
    if queue and config.get("CLOUD_TASKS_TARGET") == "http":
        account = config.get("CLOUD_TASKS_SERVICE_ACCOUNT") or ""
        if account.count("@") != 1:
            raise ConfigError(
                "CLOUD_TASKS_TARGET=http needs CLOUD_TASKS_SERVICE_ACCOUNT, the account whose "
                "OIDC token the handlers accept"
            )


def _check_mail(config: dict[str, Any]) -> None:
    backend = config.setdefault("MAIL_BACKEND", "gmail")
    if backend not in MAIL_BACKENDS:
        raise ConfigError(f"MAIL_BACKEND must be one of {', '.join(MAIL_BACKENDS)}")
    if backend == "smtp":
        for name in ("SMTP_HOST", "SMTP_FROM"):
            if not config.get(name):
                raise ConfigError(f"MAIL_BACKEND=smtp needs {name}")
        if config["SMTP_FROM"].count("@") != 1:
            raise ConfigError("SMTP_FROM must be one email address")


def on_app_engine(environ: Mapping[str, str]) -> bool:
    """Whether this process runs on App Engine standard, which sets both of these itself."""
    return environ.get("GAE_ENV") == "standard" and bool(environ.get("GAE_APPLICATION"))


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def private_folder(path: Path) -> Path:
    """Create ``path`` (and its parents) if missing; a folder it creates is the owner's only."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, readable and writable by the owner only (mode 0600).

    An existing file is narrowed to 0600 before anything is written into it.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(text)


def _generated(path: Path, make: Callable[[int], str]) -> str:
    """Return the secret stored at ``path``, creating it (readable by the owner only) if absent."""
    if path.exists():
        return path.read_text().strip()
    private_folder(path.parent)
    value = make(32)
    # O_EXCL: two processes starting at once must not each write a different secret.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value
