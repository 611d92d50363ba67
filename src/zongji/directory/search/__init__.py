"""Directory search (DIR-9, CALL-2): one search over names, pinyin, extensions and phone numbers."""
