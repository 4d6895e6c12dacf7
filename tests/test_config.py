from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from calendar_sync import config, create_app
from calendar_sync.config import SETTINGS, ConfigError
from calendar_sync.services.runtime import runtime_of

README = Path(__file__).resolve().parent.parent / "README.md"


def test_defaults_generate_secrets_into_the_instance_folder(tmp_path: Path) -> None:
    values = config.load({}, tmp_path)
    assert values["DATABASE_URL"] == f"sqlite:///{tmp_path / 'calendar_sync.sqlite3'}"
    assert (tmp_path / "secret_key").read_text() == values["SECRET_KEY"]
    Fernet(values["TOKEN_ENCRYPTION_KEYS"])  # a usable key, not a placeholder
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600
    # a second start reads the same secrets rather than making new ones
    assert config.load({}, tmp_path)["SECRET_KEY"] == values["SECRET_KEY"]


def test_environment_overrides_defaults(tmp_path: Path) -> None:
    values = config.load(
        {"PUBLIC_URL": "https://practice.example.test", "LOG_LEVEL": "DEBUG"}, tmp_path
    )
    assert values["PUBLIC_URL"] == "https://practice.example.test"
    assert values["LOG_LEVEL"] == "DEBUG"


@pytest.mark.parametrize(
    "url", ["http://practice.example.test", "http://192.168.1.20:5000", "ftp://127.0.0.1"]
)
def test_plain_http_off_loopback_refuses_to_start(tmp_path: Path, url: str) -> None:
    values = config.load({"PUBLIC_URL": url}, tmp_path)
    with pytest.raises(ConfigError, match="PUBLIC_URL"):
        config.finish(values)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:5000", "http://localhost:8080", "http://[::1]:5000"]
)
def test_plain_http_on_loopback_is_allowed(tmp_path: Path, url: str) -> None:
    values = config.load({"PUBLIC_URL": url}, tmp_path)
    config.finish(values)
    assert values["OAUTH_ALLOW_HTTP"] is True


def test_https_turns_on_secure_cookies_and_hsts(
    app_config: dict[str, object], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CALENDAR_SYNC_INSTANCE", str(tmp_path / "instance"))
    app = create_app({**app_config, "PUBLIC_URL": "https://practice.example.test"})
    try:
        assert app.config["SESSION_COOKIE_SECURE"] is True
        assert app.config["OAUTH_ALLOW_HTTP"] is False
        response = app.test_client().get("/")
        assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    finally:
        runtime_of(app).database.dispose()


def test_bad_encryption_key_is_a_clear_error(tmp_path: Path) -> None:
    values = config.load({"TOKEN_ENCRYPTION_KEYS": "not-a-key"}, tmp_path)
    with pytest.raises(ConfigError, match="TOKEN_ENCRYPTION_KEYS"):
        config.finish(values)


def test_key_rotation_list_keeps_order(tmp_path: Path) -> None:
    new, old = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    values = config.load({"TOKEN_ENCRYPTION_KEYS": f"{new}, {old}"}, tmp_path)
    config.finish(values)
    assert values["TOKEN_ENCRYPTION_KEYS"] == [new, old]


def test_api_root_gets_a_trailing_slash(tmp_path: Path) -> None:
    values = config.load({"GOOGLE_API_ROOT": "http://127.0.0.1:5001"}, tmp_path)
    config.finish(values)
    assert values["GOOGLE_API_ROOT"] == "http://127.0.0.1:5001/"


def test_readme_table_lists_every_setting() -> None:
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", README.read_text(), flags=re.MULTILINE))
    assert documented == {s.name for s in SETTINGS}


def test_private_files_and_folders_are_the_owners_only(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        folder = config.private_folder(tmp_path / "instance")
        secrets = folder / "client_secret.json"
        config.write_private(secrets, '{"web": {}}')
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
        # a file someone made readable to all is narrowed when it is written again
        secrets.chmod(0o644)
        config.write_private(secrets, '{"web": {"client_id": "x"}}')
        assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
        assert secrets.read_text() == '{"web": {"client_id": "x"}}'
    finally:
        os.umask(previous)


def test_the_app_creates_its_instance_folder_and_database_for_the_owner_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    previous = os.umask(0o022)
    instance = tmp_path / "instance"
    monkeypatch.setenv("CALENDAR_SYNC_INSTANCE", str(instance))
    for name in ("DATABASE_URL", "SECRET_KEY", "TOKEN_ENCRYPTION_KEYS"):
        monkeypatch.delenv(name, raising=False)
    try:
        app = create_app({"TESTING": True})
    finally:
        os.umask(previous)
    try:
        assert app.config["DATABASE_URL"] == f"sqlite:///{instance / 'calendar_sync.sqlite3'}"
        for path in instance.iterdir():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
        assert stat.S_IMODE(instance.stat().st_mode) == 0o700
        assert (instance / "calendar_sync.sqlite3").exists()
    finally:
        runtime_of(app).database.dispose()


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ({"CLOUD_TASKS_QUEUE": "therapists"}, "projects/P/locations/L/queues/Q"),
        (
            {
                "CLOUD_TASKS_QUEUE": "projects/p/locations/europe-west2/queues/therapists",
                "CLOUD_TASKS_TARGET": "http",
            },
            "CLOUD_TASKS_SERVICE_ACCOUNT",
        ),
        ({"CLOUD_TASKS_TARGET": "pubsub"}, "appengine or http"),
    ],
)
def test_an_unusable_cloud_tasks_setting_is_a_clear_error(
    tmp_path: Path, extra: dict[str, str], words: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(words)):
        config.finish(config.load(extra, tmp_path))


def test_a_queue_with_app_engine_targets_needs_nothing_more(tmp_path: Path) -> None:
    queue = "projects/p/locations/europe-west2/queues/therapists"
    values = config.load({"CLOUD_TASKS_QUEUE": queue}, tmp_path)
    config.finish(values)
    assert values["CLOUD_TASKS_TARGET"] == "appengine"
