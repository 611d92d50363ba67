"""Validity period (ADM-21): a user's service has a first and a last day, in the enterprise's
time zone, both included. Outside it the user can still call colleagues, but not out."""

from __future__ import annotations

from datetime import date


def within_validity(today: date, valid_from: date | None, valid_until: date | None) -> bool:
    if valid_from is not None and today < valid_from:
        return False
    return not (valid_until is not None and today > valid_until)
