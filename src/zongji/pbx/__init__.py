"""Call control: the PBX. A B2BUA on `zongji.sip` that anchors media through `zongji.media`, with
the registrar, routing, trunks, outbound policy, voicemail and call records around it.

`contracts.py` says what the parts promise each other; the call engine sees only those.
"""
