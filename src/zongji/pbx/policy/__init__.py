"""The outbound call policy: number classes, restriction levels, outbound time, minute quotas."""
