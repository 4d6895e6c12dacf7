"""The Calendar add-on's cards, as Google's endpoint contract wants them (``google.apps.card.v1``).

Plain dictionaries in the card's JSON field names. Text the therapist wrote (titles, names,
emails) is escaped: a text paragraph understands a little HTML, and must not take a
patient's name for markup. Each button names the action endpoint and says what to do in its
parameters; ``web.addon`` checks every one again before doing anything.
"""

from __future__ import annotations

from html import escape as _escape
from typing import Any

from ..domain.outcomes import Outcome
from ..services.followup.marks import MARKABLE
from ..services.pages.calendar_panel import Day, NotASession, Outgoing, SessionView

Card = dict[str, Any]


def escape(text: str) -> str:
    """Text for a card's HTML: ``<``, ``>`` and ``&`` only (quotes are plain text there)."""
    return _escape(text, quote=False)


#: Marks that only make sense once the session has begun.
_AFTER_START = (Outcome.ATTENDED, Outcome.NO_SHOW)


def pushed(card: Card) -> dict[str, Any]:
    """The answer to a trigger (homepage, event open): the card to show."""
    return {"action": {"navigations": [{"pushCard": card}]}}


def updated(card: Card, note: str) -> dict[str, Any]:
    """The answer to a button: the card again, changed, and a short notification."""
    return {
        "renderActions": {
            "action": {"navigations": [{"updateCard": card}], "notification": {"text": note}}
        }
    }


def _text(html: str) -> dict[str, Any]:
    return {"textParagraph": {"text": html}}


def _labelled(label: str, text: str, *, bottom: str = "") -> dict[str, Any]:
    item: dict[str, Any] = {"topLabel": label, "text": escape(text), "wrapText": True}
    if bottom:
        item["bottomLabel"] = bottom
    return {"decoratedText": item}


def _button(
    text: str, url: str, parameters: dict[str, str], *, filled: bool = False
) -> dict[str, Any]:
    return {
        "text": text,
        "type": "FILLED" if filled else "OUTLINED",
        "onClick": {
            "action": {
                "function": url,
                "parameters": [{"key": k, "value": v} for k, v in parameters.items()],
                "loadIndicator": "SPINNER",
            }
        },
    }


def _buttons(buttons: list[dict[str, Any]]) -> dict[str, Any]:
    return {"buttonList": {"buttons": buttons}}


def connect_card(connect_url: str) -> Card:
    """For someone whose calendar is not connected yet: Connect opens Google's consent in a
    new tab, and the panel reloads when that tab closes."""
    return {
        "header": {"title": "calendar-sync", "subtitle": "Follow-up after missed sessions"},
        "sections": [
            {
                "widgets": [
                    _text(
                        "Connect your Google Calendar to see each session's follow-up here "
                        "and mark sessions in one click. Nothing reaches a patient until you "
                        "switch follow-ups on."
                    ),
                    _buttons(
                        [
                            {
                                "text": "Connect",
                                "type": "FILLED",
                                "onClick": {
                                    "openLink": {
                                        "url": connect_url,
                                        "openAs": "FULL_SIZE",
                                        "onClose": "RELOAD",
                                    }
                                },
                            }
                        ]
                    ),
                ]
            }
        ],
    }


def _outgoing_section(
    outgoing: list[Outgoing], url: str, back: dict[str, str], header: str
) -> dict[str, Any]:
    widgets: list[dict[str, Any]] = []
    for item in outgoing:
        state = "Held: it waits until you release it" if item.held else f"Goes out {item.when}"
        widgets.append(_labelled(state, item.subject))
        widgets.append(_text(escape(item.text).replace("\n", "<br>")))
        act = {**back, "do": "outbox", "message_id": str(item.message_id)}
        buttons = [_button("Send now", url, {**act, "change": "send-now"})]
        if item.held:
            buttons.append(_button("Release", url, {**act, "change": "release"}))
        else:
            buttons.append(_button("Hold", url, {**act, "change": "hold"}))
        buttons.append(_button("Cancel", url, {**act, "change": "cancel"}))
        widgets.append(_buttons(buttons))
        widgets.append({"divider": {}})
    if not widgets:
        widgets.append(_text("Nothing is about to go out."))
    else:
        widgets.pop()  # no divider after the last one
    return {"header": header, "widgets": widgets}


def session_card(view: SessionView, url: str) -> Card:
    """An open event that is a session: patient, mark, what follows, what goes out."""
    back = {"view": "event", "calendar_id": view.calendar_id, "event_id": view.event_id}
    mark = {**back, "do": "mark"}
    marks = [
        _button(label, url, {**mark, "outcome": outcome.value}, filled=outcome is view.outcome)
        for outcome, label in MARKABLE.items()
        if view.started or outcome not in _AFTER_START
    ]
    if view.outcome is not Outcome.UNMARKED:
        marks.append(_button("Clear mark", url, {**mark, "outcome": Outcome.UNMARKED.value}))
    what: list[dict[str, Any]] = [_labelled("Mark", view.mark_words)]
    if view.video:
        what.append(_labelled("Google Meet", view.video))
    if view.if_unmarked:
        what.append(_text(escape(view.if_unmarked)))
    what.append(_buttons(marks))
    pattern = [_text(escape(view.attendance)), _text(escape(view.ladder))]
    if view.offered:
        pattern.append(_labelled("New time", view.offered))
    return {
        "header": {"title": view.patient, "subtitle": f"{view.title} · {view.when}"},
        "sections": [
            {"header": "This session", "widgets": what},
            {"header": "Attendance", "widgets": pattern},
            _outgoing_section(view.outgoing, url, back, "About to go out to this patient"),
        ],
    }


def not_session_card(view: NotASession, url: str) -> Card:
    """An open event that is not treated as a session: why, in one sentence, and the way to
    treat it as one."""
    widgets: list[dict[str, Any]] = [_text(escape(f"Not a session: {view.reason}."))]
    if view.can_treat:
        base = {
            "do": "treat",
            "view": "event",
            "calendar_id": view.calendar_id,
            "event_id": view.event_id,
        }
        buttons = [_button("Treat as a session", url, {**base, "series": ""})]
        if view.series_id:
            buttons.append(
                _button(
                    "Treat the whole series as sessions",
                    url,
                    {**base, "series": view.series_id},
                )
            )
        widgets.append(_buttons(buttons))
    return {
        "header": {"title": view.title or "This event", "subtitle": "calendar-sync"},
        "sections": [{"widgets": widgets}],
    }


def day_card(day: Day, url: str) -> Card:
    """No event open: sessions waiting for a mark, one click each, and what goes out next."""
    back = {"view": "day"}
    waiting: list[dict[str, Any]] = []
    for session in day.waiting:
        unmarked = (
            f"Unmarked: counts as {session.assumed.lower()} now"
            if session.assumed
            else (
                f"If unmarked: a no-show from {session.follow_up_from}"
                if session.follow_up_from
                else "If unmarked: nothing goes out"
            )
        )
        waiting.append(_labelled(session.when, session.label, bottom=unmarked))
        act = {
            **back,
            "do": "mark",
            "calendar_id": session.calendar_id,
            "event_id": session.event_id,
        }
        waiting.append(
            _buttons(
                [
                    _button(MARKABLE[o], url, {**act, "outcome": o.value})
                    for o in (Outcome.ATTENDED, Outcome.NO_SHOW, Outcome.LATE_CANCEL)
                ]
            )
        )
    if not waiting:
        waiting.append(_text("No session is waiting for a mark."))
    return {
        "header": {
            "title": "calendar-sync",
            "subtitle": f"Emails wait {day.hold_words} before they go out",
        },
        "sections": [
            {"header": "Waiting for a mark", "widgets": waiting},
            _outgoing_section(day.outgoing, url, back, "About to go out"),
        ],
    }
