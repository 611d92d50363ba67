"""HTTP Digest authentication for SIP (RFC 3261 §22, RFC 7616, RFC 8760): MD5 and SHA-256.

`client` answers challenges; `server` issues and checks them with expiring, replay-protected
nonces; `digest` holds the hashing both sides share.
"""

from zongji.sip.auth.client import Credentials, DigestClient
from zongji.sip.auth.digest import DigestAlgorithm
from zongji.sip.auth.server import AuthOutcome, AuthResult, DigestAuthenticator, DigestSecret

__all__ = [
    "AuthOutcome",
    "AuthResult",
    "Credentials",
    "DigestAlgorithm",
    "DigestAuthenticator",
    "DigestClient",
    "DigestSecret",
]
