"""Answering Digest challenges (RFC 3261 §22.2 - §22.3, RFC 7616 §3.4, RFC 8760)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from zongji.sip.auth.digest import DigestAlgorithm, compute_ha1, compute_response
from zongji.sip.fields import AuthChallenge, AuthCredentials
from zongji.sip.message import Request, Response


@dataclass(frozen=True, slots=True)
class Credentials:
    """A username and password, for one realm or (realm None) for whatever realm asks."""

    username: str
    password: str
    realm: str | None = None


class DigestClient:
    """Adds Authorization / Proxy-Authorization to a request that drew a 401 / 407.

    It remembers the nonces it has used so that reusing one counts `nc` up (RFC 7616 §3.4).
    """

    def __init__(self, credentials: Credentials | list[Credentials]) -> None:
        self._credentials = credentials if isinstance(credentials, list) else [credentials]
        self._nonce_counts: dict[str, int] = {}

    def _credentials_for(self, realm: str) -> Credentials | None:
        for credentials in self._credentials:
            if credentials.realm is None or credentials.realm == realm:
                return credentials
        return None

    def authorize(self, request: Request, challenge_response: Response) -> bool:
        """Add credentials answering the challenges in `challenge_response` to `request`.

        Returns False if no challenge could be answered (unknown scheme or algorithm, no
        credentials for the realm), in which case the request is unchanged.
        """
        if challenge_response.status == 407:
            challenges = challenge_response.proxy_authenticate
            header = "Proxy-Authorization"
        else:
            challenges = challenge_response.www_authenticate
            header = "Authorization"
        answers: list[AuthCredentials] = []
        answered_realms: set[str] = set()
        for challenge in challenges:
            realm = challenge.params.get("realm", "")
            if realm in answered_realms:
                continue  # the first supported challenge of a realm wins (RFC 8760 §2.4)
            answer = self.answer(challenge, request)
            if answer is not None:
                answers.append(answer)
                answered_realms.add(realm)
        if not answers:
            return False
        request.headers.remove(header)
        for answer in answers:
            request.headers.add(header, answer)
        return True

    def answer(self, challenge: AuthChallenge, request: Request) -> AuthCredentials | None:
        """Credentials answering one challenge for `request`, or None if we cannot."""
        if challenge.scheme.lower() != "digest":
            return None
        algorithm = DigestAlgorithm.from_text(challenge.params.get("algorithm"))
        realm = challenge.params.get("realm")
        nonce = challenge.params.get("nonce")
        if algorithm is None or realm is None or nonce is None:
            return None
        credentials = self._credentials_for(realm)
        if credentials is None:
            return None
        qop_options = [q.strip() for q in challenge.params.get("qop", "").split(",") if q.strip()]
        qop = "auth" if "auth" in qop_options else "auth-int" if "auth-int" in qop_options else None
        if qop_options and qop is None:
            return None
        uri = str(request.uri)
        params = {
            "username": credentials.username,
            "realm": realm,
            "nonce": nonce,
            "uri": uri,
        }
        nc = cnonce = None
        if qop is not None:
            count = self._nonce_counts.get(nonce, 0) + 1
            if len(self._nonce_counts) > 64:
                self._nonce_counts.clear()
            self._nonce_counts[nonce] = count
            nc = f"{count:08x}"
            cnonce = secrets.token_hex(8)
        params["response"] = compute_response(
            algorithm=algorithm,
            ha1=compute_ha1(algorithm, credentials.username, realm, credentials.password),
            nonce=nonce,
            method=request.method,
            uri=uri,
            qop=qop,
            nc=nc,
            cnonce=cnonce,
            body=request.body,
        )
        params["algorithm"] = algorithm.value
        if qop is not None and nc is not None and cnonce is not None:
            params["qop"] = qop
            params["nc"] = nc
            params["cnonce"] = cnonce
        if "opaque" in challenge.params:
            params["opaque"] = challenge.params["opaque"]
        return AuthCredentials("Digest", params)
