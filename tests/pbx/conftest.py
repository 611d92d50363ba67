"""The running-PBX fixture (`pbx`) for tests that place real calls."""

from tests.interop.pbx_harness import pbx

__all__ = ["pbx"]
