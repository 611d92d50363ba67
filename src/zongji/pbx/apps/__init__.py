"""Applications: the PBX itself talking to a caller (DESIGN §3).

Each application lives in its own folder and implements `Application` (`application.py`); the
registry (`registry.py`) lists them, one line each. A destination kind an application serves
(`Application.serves`), or a feature code it answers to (`Application.feature_code`), reaches it
through the router and the call engine without either being edited.
"""
