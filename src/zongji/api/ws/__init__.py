"""The real-time channel `/api/v1/ws` (DESIGN §4, docs/api/ws.md): events after commit, to the
connections of the enterprise and users they concern, resumable from a cursor."""
