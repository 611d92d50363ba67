"""The demo (`zongji serve --demo`, `zongji demo call`): a demo enterprise, its telephony, a
carrier simulator and an outside caller.

The demo is composition, like `zongji.services` and `zongji.node`: it may use every context, and
no context imports it (an import-linter contract in pyproject.toml keeps it so).
"""
