"""Amounts of money as integer minor units with a currency code (no floats)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_CURRENCY = re.compile(r"[A-Z]{3}")

# ISO 4217 currencies whose minor unit is not the usual hundredth. Anything not listed is
# shown with two decimals; the stored amount is exact either way.
_MINOR_DIGITS = {
    "BHD": 3,
    "CLP": 0,
    "ISK": 0,
    "JOD": 3,
    "JPY": 0,
    "KRW": 0,
    "KWD": 3,
    "OMR": 3,
    "PYG": 0,
    "TND": 3,
    "UGX": 0,
    "VND": 0,
    "XAF": 0,
    "XOF": 0,
}


@dataclass(frozen=True, order=True)
class Money:
    """An amount in minor units (cents, pence) of an ISO 4217 currency.

    :raises ValueError: if the currency is not three upper-case letters.
    """

    minor_units: int
    currency: str

    def __post_init__(self) -> None:
        if not _CURRENCY.fullmatch(self.currency):
            raise ValueError(f"currency must be an ISO 4217 code like 'EUR', got {self.currency!r}")

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.minor_units + other.minor_units, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.minor_units - other.minor_units, self.currency)

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValueError(f"cannot combine {self.currency} with {other.currency}")

    def decimal_text(self) -> str:
        """The amount as a plain decimal string, e.g. ``40.00`` or ``-5.50`` or ``3000``."""
        digits = _MINOR_DIGITS.get(self.currency, 2)
        sign = "-" if self.minor_units < 0 else ""
        whole, fraction = divmod(abs(self.minor_units), 10**digits)
        if digits == 0:
            return f"{sign}{whole}"
        return f"{sign}{whole}.{fraction:0{digits}d}"

    def __str__(self) -> str:
        return f"{self.currency} {self.decimal_text()}"
