"""Validity period (ADM-21): a user's service has a first and a last day, in the enterprise's
time zone, both included. Outside it the user can call nobody but emergency numbers; the rule
itself is the directory's (`zongji.directory.service_period`), shared with logins."""

from __future__ import annotations

from zongji.directory.service_period import within_validity

__all__ = ["within_validity"]
