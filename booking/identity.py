"""Resident identity rules: mainland ID-card numbers (GB 11643) and phone numbers."""
from __future__ import annotations

import re

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_PATTERN = re.compile(r"^\d{17}[\dX]$")
PHONE_PATTERN = r"^(1\d{10}|0\d{2,3}-?\d{7,8})$"


def valid_id_card(number: str) -> bool:
    """True for an 18-character ID number whose check character matches."""
    number = number.strip().upper()
    if not _ID_PATTERN.match(number):
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS))
    return _ID_CHECK[total % 11] == number[17]
