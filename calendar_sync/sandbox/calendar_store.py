"""In-memory Google Calendar data for the sandbox: calendars, events, sync and push state.

Pure data and rules, no Flask: the HTTP layer (``calendar_api``) translates requests into
calls here. One re-entrant lock guards everything, since request threads and the control
API share the store.
"""

from __future__ import annotations

import copy
import itertools
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from . import calendar_events as ev
from . import freebusy
from .calendar_listing import SYNC_FORBIDDEN, ListQuery, collect
from .calendar_record import DEFAULT_REMINDERS, Calendar
from .calendar_tokens import PageState, TokenBook
from .errors import GoogleError
from .invitations import InvitationLog
from .push import PushHub
from .recurrence import build_instance, check_recurrence, occurrences

# Series without an end are expanded this far past the sandbox clock when no timeMax is given.
EXPANSION_HORIZON = timedelta(days=730)
DEFAULT_MAX_RESULTS = 250
MAX_RESULTS_CAP = 2500


class CalendarStore:
    """All calendars of all sandbox accounts; safe to share between request threads."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._lock = threading.RLock()
        self._calendars: dict[str, Calendar] = {}
        self._by_account: dict[str, list[str]] = {}
        self._seq = 0
        self._order = itertools.count(1)
        self.tokens = TokenBook()
        self.push = PushHub(clock)
        self.invitations = InvitationLog()

    # -- calendars -------------------------------------------------------------------------

    def create_primary(self, email: str, time_zone: str) -> None:
        """Give ``email`` its primary calendar, whose id is the address itself."""
        with self._lock:
            if email not in self._calendars:
                self._add(email, email, email, time_zone, primary=True)

    def add_calendar(
        self, email: str, summary: str, time_zone: str, calendar_id: str | None = None
    ) -> dict:
        """A secondary calendar for ``email``; ids look like Google's group calendar ids."""
        with self._lock:
            if email not in self._by_account:
                raise GoogleError(404, "notFound", "Not Found")
            calendar_id = calendar_id or f"{ev.new_event_id()}@group.calendar.google.com"
            if calendar_id in self._calendars:
                raise GoogleError(409, "duplicate", "The requested identifier already exists.")
            ev.zone(time_zone)
            return self._add(calendar_id, email, summary, time_zone, primary=False).list_entry()

    def _add(self, cid: str, owner: str, summary: str, tz: str, primary: bool) -> Calendar:
        calendar = Calendar(cid, owner, summary, tz, primary, self._clock())
        self._calendars[cid] = calendar
        ids = self._by_account.setdefault(owner, [])
        ids.insert(0, cid) if primary else ids.append(cid)
        return calendar

    def calendar_list(self, account: str) -> list[dict]:
        with self._lock:
            return [
                self._calendars[c].list_entry(account) for c in self._by_account.get(account, [])
            ]

    def share(self, calendar_id: str, account: str) -> dict:
        """Share a calendar with another account, which sees it on its calendar list."""
        with self._lock:
            calendar = self._calendars.get(calendar_id)
            if calendar is None or account not in self._by_account:
                raise GoogleError(404, "notFound", "Not Found")
            if account != calendar.owner and account not in calendar.shared_with:
                calendar.shared_with.add(account)
                self._by_account[account].append(calendar_id)
            return calendar.list_entry(account)

    def calendar(self, account: str, calendar_id: str) -> Calendar:
        """The calendar if ``account`` may use it. :raises GoogleError: 404 ``notFound``."""
        with self._lock:
            if calendar_id == "primary":
                calendar_id = account
            calendar = self._calendars.get(calendar_id)
            if calendar is None or not calendar.can_use(account):
                raise GoogleError(404, "notFound", "Not Found")
            return calendar

    def owner_of(self, calendar_id: str) -> str:
        """The owning account, for control endpoints that act without a token."""
        with self._lock:
            calendar = self._calendars.get(calendar_id)
            if calendar is None:
                raise GoogleError(404, "notFound", "Not Found")
            return calendar.owner

    def find(self, calendar_id: str) -> Calendar | None:
        with self._lock:
            return self._calendars.get(calendar_id)

    def now(self) -> datetime:
        return self._clock()

    # -- writing events --------------------------------------------------------------------

    def _commit(self, calendar: Calendar, event: dict) -> dict:
        """Store a changed event: new change number, ``updated`` and ``etag``; notify watchers."""
        self._seq += 1
        now = self._clock()
        event["updated"] = ev.format_stamp(now)
        event["etag"] = f'"{int(now.timestamp() * 1000)}{self._seq:06d}"'
        calendar.events[event["id"]] = event
        calendar.seq_of[event["id"]] = self._seq
        calendar.order.setdefault(event["id"], next(self._order))
        self.push.notify(calendar.id)
        return copy.deepcopy(event)

    def _validate(self, calendar: Calendar, body: dict, previous: dict | None) -> None:
        ev.check_fields(body)
        ev.normalise_times(body, calendar.time_zone)
        if body.get("recurrence"):
            if "recurringEventId" in body:
                raise GoogleError(400, "invalid", "An instance cannot carry a recurrence.")
            check_recurrence(body, calendar.time_zone)
        organizer = (body.get("organizer") or {}).get("email", calendar.id)
        ev.normalise_attendees(body, organizer, (previous or {}).get("attendees"), calendar.id)

    def insert_event(
        self,
        account: str,
        calendar_id: str,
        body: dict,
        send_updates: str | None = None,
        *,
        organizer: str | None = None,
    ) -> dict:
        """``events.insert``. :raises GoogleError: 400 ``invalid``, 409 ``duplicate``.

        ``organizer`` (control API only) makes the event someone else's invitation as it
        appears in this calendar: organised by that address, the owner one of its guests.
        """
        with self._lock:
            calendar = self.calendar(account, calendar_id)
            event_id = body.get("id")
            if event_id is None:
                event_id = ev.new_event_id()
            else:
                ev.check_client_event_id(event_id)
                # Ids of deleted events stay taken, as on Google.
                if event_id in calendar.events:
                    raise GoogleError(409, "duplicate", "The requested identifier already exists.")
            event = {k: copy.deepcopy(body[k]) for k in ev.WRITABLE_FIELDS if k in body}
            now = ev.format_stamp(self._clock())
            event.update(
                kind="calendar#event",
                id=event_id,
                htmlLink=ev.html_link(event_id, calendar.id),
                created=now,
                creator={"email": account, "self": True},
                organizer=_organizer(calendar, account)
                if organizer is None or organizer.lower() == calendar.id.lower()
                else {"email": organizer},
                iCalUID=body.get("iCalUID") or f"{event_id}@google.com",
                sequence=0,
                eventType="default",
            )
            event.setdefault("status", "confirmed")
            event.setdefault("reminders", {"useDefault": True})
            self._validate(calendar, event, None)
            stored = self._commit(calendar, event)
            self.invitations.record(calendar.id, "insert", None, stored, send_updates, now)
            return stored

    def _materialise(self, calendar: Calendar, event_id: str) -> tuple[dict, bool]:
        """The stored event, or the not-yet-stored instance an instance id names.

        Returns (event, stored). :raises GoogleError: 404 ``notFound``.
        """
        if event_id in calendar.events:
            return copy.deepcopy(calendar.events[event_id]), True
        parsed = ev.parse_instance_id(event_id)
        series = calendar.events.get(parsed[0]) if parsed else None
        if parsed and series and series.get("recurrence"):
            original = parsed[1]
            start = ev.instant(original, calendar.time_zone)
            for found in occurrences(
                series, calendar.time_zone, start, start + timedelta(seconds=1)
            ):
                if ev.instance_suffix(found) == ev.instance_suffix(original):
                    return build_instance(series, found, calendar.time_zone), False
        raise GoogleError(404, "notFound", "Not Found")

    def get_event(self, account: str, calendar_id: str, event_id: str) -> dict:
        """``events.get``; deleted events are still returned, with status ``cancelled``."""
        with self._lock:
            return self._materialise(self.calendar(account, calendar_id), event_id)[0]

    def change_event(
        self,
        account: str,
        calendar_id: str,
        event_id: str,
        body: dict,
        *,
        replace: bool,
        send_updates: str | None = None,
        if_match: str | None = None,
    ) -> dict:
        """``events.update`` (``replace``) or ``events.patch``.

        Changing an instance of a series stores an exception for it.
        :raises GoogleError: 404, 400, or 412 ``conditionNotMet`` when ``if_match`` is stale.
        """
        with self._lock:
            calendar = self.calendar(account, calendar_id)
            current, _ = self._materialise(calendar, event_id)
            ev.check_etag(current, if_match)
            writable = {k: copy.deepcopy(body[k]) for k in ev.WRITABLE_FIELDS if k in body}
            if replace:
                changed = {k: v for k, v in current.items() if k not in ev.WRITABLE_FIELDS}
                changed.update(writable)
                changed.setdefault("status", "confirmed")
                changed.setdefault("reminders", {"useDefault": True})
            else:
                changed = ev.merge_patch(current, writable)
            if "recurringEventId" in current:
                changed.pop("recurrence", None)
            self._validate(calendar, changed, current)
            if any(changed.get(k) != current.get(k) for k in ev.SIGNIFICANT_FIELDS):
                changed["sequence"] = current.get("sequence", 0) + 1
            stored = self._commit(calendar, changed)
            self.invitations.record(
                calendar.id, "update", current, stored, send_updates, stored["updated"]
            )
            return stored

    def set_meet_link(self, calendar_id: str, event_id: str, code: str) -> dict:
        """Give a stored event a Google Meet link, as Calendar does when one is added.

        ``conferenceData`` and ``hangoutLink`` are Google's own fields (not writable here
        through ``events.insert``); a series passes the link on to its instances.
        :raises GoogleError: 404 when the event is not stored in that calendar.
        """
        with self._lock:
            calendar = self.find(calendar_id)
            if calendar is None or event_id not in calendar.events:
                raise GoogleError(404, "notFound", "Not Found")
            event = copy.deepcopy(calendar.events[event_id])
            link = f"https://meet.google.com/{code}"
            event["hangoutLink"] = link
            event["conferenceData"] = {
                "conferenceId": code,
                "conferenceSolution": {"key": {"type": "hangoutsMeet"}, "name": "Google Meet"},
                "entryPoints": [
                    {"entryPointType": "video", "uri": link, "label": link.split("//")[1]}
                ],
            }
            return self._commit(calendar, event)

    def delete_event(
        self,
        account: str,
        calendar_id: str,
        event_id: str,
        send_updates: str | None = None,
        if_match: str | None = None,
    ) -> None:
        """``events.delete``: the event stays, cancelled, so incremental sync can report it.

        Deleting an instance stores a cancelled exception; deleting a series also cancels
        its exceptions. :raises GoogleError: 404, 410 ``deleted`` if already deleted, 412.
        """
        with self._lock:
            calendar = self.calendar(account, calendar_id)
            current, stored = self._materialise(calendar, event_id)
            if stored and current.get("status") == "cancelled":
                raise GoogleError(410, "deleted", "Resource has been deleted")
            ev.check_etag(current, if_match)
            previous = copy.deepcopy(current)
            current["status"] = "cancelled"
            current["sequence"] = current.get("sequence", 0) + 1
            committed = self._commit(calendar, current)
            if current.get("recurrence"):
                for other in list(calendar.events.values()):
                    if other.get("recurringEventId") == event_id and other["status"] != "cancelled":
                        self._commit(calendar, {**other, "status": "cancelled"})
            self.invitations.record(
                calendar.id, "delete", previous, committed, send_updates, committed["updated"]
            )

    def respond(self, calendar_id: str, event_id: str, email: str, response: str) -> dict:
        """An attendee answers an invitation, as the patient would with Yes / No / Maybe.

        :raises GoogleError: 404 if the event or the attendee is unknown, 400 bad response.
        """
        if response not in ev.RESPONSE_STATUSES:
            raise GoogleError(400, "invalid", "Invalid attendee response status.")
        with self._lock:
            calendar = self._calendars.get(calendar_id)
            if calendar is None:
                raise GoogleError(404, "notFound", "Not Found")
            current, _ = self._materialise(calendar, event_id)
            for attendee in current.get("attendees") or []:
                if attendee.get("email", "").lower() == email.lower():
                    attendee["responseStatus"] = response
                    return self._commit(calendar, current)
            raise GoogleError(404, "notFound", "No such attendee.")

    # -- reading events --------------------------------------------------------------------

    def list_events(
        self,
        account: str,
        calendar_id: str,
        query: ListQuery,
        *,
        sync_token: str | None = None,
        page_token: str | None = None,
        max_results: int | None = None,
        given: frozenset[str] = frozenset(),
        time_zone: str | None = None,
    ) -> dict:
        """``events.list``: one page, with ``nextPageToken`` or, on the last, ``nextSyncToken``.

        ``given`` names the query parameters the client sent, to refuse those Google forbids
        next to a sync token. :raises GoogleError: 400, 404, 410 ``fullSyncRequired``.
        """
        size = min(max_results or DEFAULT_MAX_RESULTS, MAX_RESULTS_CAP)
        with self._lock:
            calendar = self.calendar(account, calendar_id)
            if time_zone is not None:
                ev.zone(time_zone)
            if page_token:
                state = self.tokens.page(page_token, calendar.id)
            else:
                since = None
                if sync_token:
                    forbidden = sorted(given & set(SYNC_FORBIDDEN))
                    if forbidden:
                        raise GoogleError(
                            400, "invalid", f"{forbidden[0]} cannot be used with a syncToken."
                        )
                    since = self.tokens.resolve_sync(sync_token, calendar.id, self._clock())
                query.check()
                horizon = self._clock() + EXPANSION_HORIZON
                items = tuple(collect(calendar, query, since, horizon))
                state = PageState(calendar.id, items, 0, self._seq)
            end = state.offset + size
            result = self._listing(calendar, time_zone)
            result["items"] = copy.deepcopy(list(state.items[state.offset : end]))
            if end < len(state.items):
                result["nextPageToken"] = self.tokens.save_page(
                    PageState(calendar.id, state.items, end, state.snapshot_seq)
                )
            else:
                result["nextSyncToken"] = self.tokens.issue_sync(
                    calendar.id, state.snapshot_seq, self._clock()
                )
            return result

    def _listing(self, calendar: Calendar, time_zone: str | None) -> dict:
        stamps = [e["updated"] for e in calendar.events.values()]
        updated = max(stamps, default=ev.format_stamp(calendar.created))
        return {
            "kind": "calendar#events",
            "etag": f'"{max(calendar.seq_of.values(), default=0)}"',
            "summary": calendar.summary,
            "updated": updated,
            "timeZone": time_zone or calendar.time_zone,
            "accessRole": "owner",
            "defaultReminders": copy.deepcopy(DEFAULT_REMINDERS),
        }

    def instances(
        self,
        account: str,
        calendar_id: str,
        event_id: str,
        query: ListQuery,
        max_results: int | None = None,
        page_token: str | None = None,
    ) -> dict:
        """``events.instances``: the expanded occurrences (and exceptions) of one series."""
        with self._lock:
            calendar = self.calendar(account, calendar_id)
            series = calendar.events.get(event_id)
            if series is None or not series.get("recurrence"):
                raise GoogleError(404, "notFound", "Not Found")
            query.single_events = True
            query.order_by = "startTime"
            query.ical_uid = series["iCalUID"]
            return self.list_events(
                account,
                calendar_id,
                query,
                page_token=page_token,
                max_results=max_results,
            )

    def freebusy(self, account: str, body: dict) -> dict:
        """``freebusy.query``. Every sandbox calendar's free/busy is visible to every account,
        as inside one Google Workspace domain; "primary" means the caller's."""
        with self._lock:
            return freebusy.answer(
                body, lambda cid: self._calendars.get(account if cid == "primary" else cid)
            )

    def invalidate_sync_tokens(self, calendar_id: str) -> int:
        """Make every sync token of the calendar answer 410, as after a Google-side reset."""
        with self._lock:
            return self.tokens.invalidate(calendar_id)

    def close(self) -> None:
        """Stop background work (push delivery)."""
        self.push.close()


def _organizer(calendar: Calendar, account: str) -> dict:
    if calendar.primary:
        return {"email": account, "self": True}
    # Events on a secondary calendar are organised by the calendar itself.
    return {"email": calendar.id, "displayName": calendar.summary, "self": True}
