"""Google Meet v2: conference records, their participants and participant sessions.

Only what the attendance rules need leaves this module: for each participant, whether it
is the therapist (their Google account, ``users/<subject>``) and when they were in the call.
Display names, phone numbers and other users' ids are read from Google's answer and dropped
here; they are never returned, stored or logged.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..domain.meet import CallRecord, Participant, Stay
from . import retry
from .events import format_time


@dataclass(frozen=True)
class Record:
    """A conference record as listed: its resource name and when the call ran."""

    name: str
    start: datetime
    end: datetime | None


def _stamp(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass
class MeetReader:
    """Reads calls for one therapist and counts its calls to Google.

    ``therapist_user`` is the therapist's Google account id (the OpenID subject); Meet
    names a signed-in participant ``users/<that id>``.
    """

    meet: Any
    therapist_user: str
    policy: retry.RetryPolicy = retry.DEFAULT_POLICY
    sleep: Callable[[float], None] = time.sleep
    calls: int = 0

    def _pages(self, make: Callable[[str | None], Any], key: str) -> Iterator[dict[str, Any]]:
        token: str | None = None
        while True:
            self.calls += 1
            page = retry.execute(make(token), policy=self.policy, sleep=self.sleep)
            for item in page.get(key) or []:
                if isinstance(item, dict):
                    yield item
            token = page.get("nextPageToken")
            if not token:
                return

    def records(self, code: str, since: datetime, until: datetime) -> list[Record]:
        """The calls in space ``code`` that started between ``since`` and ``until``.

        :raises GoogleApiError: as :func:`retry.execute` (403 when the scope is missing).
        """
        text = (
            f'space.meeting_code = "{code}" AND start_time >= "{format_time(since)}" '
            f'AND start_time <= "{format_time(until)}"'
        )
        found = []
        for item in self._pages(
            lambda token: self.meet.conferenceRecords().list(
                filter=text, pageSize=100, **({"pageToken": token} if token else {})
            ),
            "conferenceRecords",
        ):
            start = _stamp(item.get("startTime"))
            if isinstance(item.get("name"), str) and start is not None:
                found.append(Record(item["name"], start, _stamp(item.get("endTime"))))
        return found

    def participants(self, record: Record, doubtful: Callable[[Stay], bool]) -> CallRecord:
        """Who was in ``record``, stripped to therapist-or-not and stays.

        A participant who is not the therapist and whose first-join-to-last-leave span is
        ``doubtful`` (see ``domain.meet.needs_sessions``) has their sessions read as well.
        """
        people: list[Participant] = []
        for item in self._pages(
            lambda token: (
                self.meet.conferenceRecords()
                .participants()
                .list(parent=record.name, pageSize=250, **({"pageToken": token} if token else {}))
            ),
            "participants",
        ):
            first = _stamp(item.get("earliestStartTime"))
            if first is None:
                continue
            signed_in = item.get("signedinUser")
            user = signed_in.get("user") if isinstance(signed_in, dict) else None
            is_therapist = user == f"users/{self.therapist_user}"
            span = Stay(first, _stamp(item.get("latestEndTime")))
            stays: tuple[Stay, ...] = (span,)
            if not is_therapist and doubtful(span) and isinstance(item.get("name"), str):
                stays = self._sessions(item["name"]) or stays
            people.append(Participant(is_therapist, stays))
        return CallRecord(record.start, record.end, tuple(people))

    def _sessions(self, participant: str) -> tuple[Stay, ...]:
        stays = []
        for item in self._pages(
            lambda token: (
                self.meet.conferenceRecords()
                .participants()
                .participantSessions()
                .list(parent=participant, pageSize=250, **({"pageToken": token} if token else {}))
            ),
            "participantSessions",
        ):
            start = _stamp(item.get("startTime"))
            if start is not None:
                stays.append(Stay(start, _stamp(item.get("endTime"))))
        return tuple(stays)
