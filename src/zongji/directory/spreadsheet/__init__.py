"""Spreadsheets (ADM-1, ADM-2, ADM-3, ADM-8): template, import (dry run and commit) and export of
the directory's users, with one column list for all three."""
