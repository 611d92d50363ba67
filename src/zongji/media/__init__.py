"""RTP media engine: codecs, clock, jitter buffer, DTMF, player, recorder, mixer, relay.

Knows nothing of SIP or storage; call control reaches it only through its `MediaServer` interface.
"""
