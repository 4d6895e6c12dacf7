"""What happened to a session, in the words practice-management systems use."""

from __future__ import annotations

from enum import Enum


class Outcome(Enum):
    """The outcome of one session.

    ``UNMARKED`` means nobody has said yet; what that implies is a per-therapist setting
    (see :mod:`calendar_sync.domain.unmarked`).
    """

    ATTENDED = "attended"
    NO_SHOW = "no_show"
    LATE_CANCEL = "late_cancel"
    CANCELLED_IN_TIME = "cancelled_in_time"
    CLINICIAN_CANCELLED = "clinician_cancelled"
    UNMARKED = "unmarked"

    @property
    def label(self) -> str:
        """The outcome as a therapist would say it."""
        return _LABELS[self]

    @property
    def is_billable_miss(self) -> bool:
        """True for the outcomes a missed-appointment fee may apply to."""
        return self in (Outcome.NO_SHOW, Outcome.LATE_CANCEL)


_LABELS = {
    Outcome.ATTENDED: "attended",
    Outcome.NO_SHOW: "no-show",
    Outcome.LATE_CANCEL: "late cancel",
    Outcome.CANCELLED_IN_TIME: "cancelled in time",
    Outcome.CLINICIAN_CANCELLED: "cancelled by you",
    Outcome.UNMARKED: "not marked",
}
