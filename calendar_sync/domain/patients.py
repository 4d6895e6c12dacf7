"""The per-patient settings the domain needs; who the patient is stays with the adapters."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Patient:
    """A patient, known only by an opaque key (no name or address in the domain).

    ``do_not_email``: the patient asked not to be contacted by email; nothing is sent to
    them and the escalation ladder only alerts the therapist.
    ``fee_exempt``: no missed-appointment fee is ever charged (for example a payer that
    forbids such fees); ``fee_exempt_reason`` is shown to the therapist.

    :raises ValueError: on an empty key.
    """

    key: str
    do_not_email: bool = False
    fee_exempt: bool = False
    fee_exempt_reason: str = ""

    def __post_init__(self) -> None:
        if not self.key:
            raise ValueError("Patient.key cannot be empty")
