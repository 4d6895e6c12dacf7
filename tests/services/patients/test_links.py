"""Patient links: signed opaque tokens, expiry, single use, and answers for the dashboard."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask

from calendar_sync.services.patients import links
from calendar_sync.services.runtime import runtime_of
from calendar_sync.storage.models import Therapist

NOW = datetime(2031, 6, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def database_url(any_database_url: str) -> str:
    return any_database_url  # every test here runs on SQLite and on Postgres


def therapist(app: Flask) -> int:
    with runtime_of(app).database.transaction() as db:
        row = Therapist(
            google_subject="sub-1",
            email="dr.lee@example.test",
            display_name="Dr Lee",
            time_zone="Europe/London",
            created_at=NOW,
        )
        db.add(row)
        db.flush()
        return int(row.id)


def issue(app: Flask, therapist_id: int, purpose: str, now: datetime = NOW) -> str:
    with runtime_of(app).database.transaction() as db:
        return links.issue_link(
            db,
            therapist_id=therapist_id,
            calendar_id="dr.lee@example.test",
            event_id="evt00001",
            purpose=purpose,
            now=now,
            config=app.config,
        )


def check(app: Flask, token: str, now: datetime = NOW) -> Any:
    with runtime_of(app).database.transaction() as db:
        return links.check_token(db, token, now, app.config)


def test_a_link_carries_only_an_opaque_signed_id(app: Flask) -> None:
    url = issue(app, therapist(app), links.BARRIER_SURVEY)
    assert url.startswith("http://127.0.0.1:5000/p/")
    token = url.rsplit("/", 1)[1]
    assert "example" not in token and "evt00001" not in token
    result = check(app, token)
    assert result.status is links.LinkStatus.VALID and result.link.purpose == links.BARRIER_SURVEY
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    assert check(app, tampered).status is links.LinkStatus.TAMPERED
    assert check(app, "not-a-token").status is links.LinkStatus.TAMPERED
    assert check(app, token, NOW + timedelta(days=14)).status is links.LinkStatus.EXPIRED
    with pytest.raises(ValueError):
        issue(app, 1, "terminate")


def test_single_use_and_answers_for_the_dashboard(app: Flask) -> None:
    therapist_id = therapist(app)
    token = issue(app, therapist_id, links.BARRIER_SURVEY).rsplit("/", 1)[1]
    link = check(app, token).link
    database = runtime_of(app).database
    with database.transaction() as db:
        assert links.claim(db, link.id, NOW)
        links.record_barriers(db, link, ["cost", "forgot", "bogus"], "  The bus was late. ", NOW)
    with database.transaction() as db:
        assert not links.claim(db, link.id, NOW + timedelta(minutes=1))
    assert check(app, token).status is links.LinkStatus.USED
    other = issue(app, therapist_id, links.WILL_GET_IN_TOUCH).rsplit("/", 1)[1]
    with database.transaction() as db:
        assert links.claim(db, check(app, other).link.id, NOW + timedelta(hours=1))
    with database.transaction() as db:
        answers = links.answers_for(db, therapist_id)
    assert [a.kind for a in answers] == [links.WILL_GET_IN_TOUCH, links.BARRIER_SURVEY]
    assert answers[1].reasons == ("cost", "forgot")
    assert answers[1].other_text == "The bus was late."


def test_expired_links_cannot_be_claimed(app: Flask) -> None:
    therapist_id = therapist(app)
    old = NOW - timedelta(days=15)
    token = issue(app, therapist_id, links.CHOOSE_TIME, old).rsplit("/", 1)[1]
    result = check(app, token)
    assert result.status is links.LinkStatus.EXPIRED
    with runtime_of(app).database.transaction() as db:
        assert not links.claim(db, result.link.id, NOW)
