"""What Google would have emailed to attendees, decided by ``sendUpdates``.

Without ``sendUpdates`` (or with ``none``) Google sends nothing, which is how a therapist's
private session stays invisible to the patient; ``all`` emails every guest and
``externalOnly`` only guests outside the organizer's domain (the sandbox's reading of
"non-Google Calendar guests").
"""

from __future__ import annotations

import threading


def _domain(email: str) -> str:
    return email.rpartition("@")[2].lower()


def _guests(event: dict | None) -> dict[str, dict]:
    if not event or event.get("status") == "cancelled":
        return {}
    return {
        a["email"].lower(): a
        for a in event.get("attendees") or []
        if not a.get("organizer") and not a.get("self")
    }


class InvitationLog:
    """Every change with its ``sendUpdates``, and the messages it would have produced."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changes: list[dict] = []
        self._messages: list[dict] = []

    def record(
        self,
        calendar_id: str,
        method: str,
        previous: dict | None,
        current: dict,
        send_updates: str | None,
        at: str,
    ) -> None:
        organizer = (current.get("organizer") or {}).get("email", calendar_id)
        before, after = _guests(previous), _guests(current)
        kinds: dict[str, str] = {}
        for email in after:
            kinds[email] = "update" if email in before else "invitation"
        for email in before:
            if email not in after:
                kinds[email] = "cancellation"
        if send_updates == "all":
            recipients = sorted(kinds)
        elif send_updates == "externalOnly":
            recipients = sorted(e for e in kinds if _domain(e) != _domain(organizer))
        else:
            recipients = []
        with self._lock:
            self._changes.append(
                {
                    "calendarId": calendar_id,
                    "eventId": current["id"],
                    "method": method,
                    "sendUpdates": send_updates,
                    "recipients": recipients,
                    "at": at,
                }
            )
            for email in recipients:
                self._messages.append(
                    {
                        "to": email,
                        "kind": kinds[email],
                        "calendarId": calendar_id,
                        "eventId": current["id"],
                        "sequence": current.get("sequence", 0),
                        "at": at,
                    }
                )

    def changes(self, calendar_id: str | None = None) -> list[dict]:
        with self._lock:
            return [dict(c) for c in self._changes if calendar_id in (None, c["calendarId"])]

    def messages(self, email: str | None = None) -> list[dict]:
        """Messages sent, optionally only those to one attendee."""
        with self._lock:
            wanted = email.lower() if email else None
            return [dict(m) for m in self._messages if wanted in (None, m["to"])]
