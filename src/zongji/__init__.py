"""Zongji (云总机): a multi-tenant cloud switchboard."""

__version__ = "0.1.0"
