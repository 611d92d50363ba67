"""Digest authentication: known answers, challenge/verify, stale nonces, replays, HA1 lookups."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from zongji.sip.auth import (
    AuthOutcome,
    Credentials,
    DigestAlgorithm,
    DigestAuthenticator,
    DigestClient,
    DigestSecret,
)
from zongji.sip.auth.digest import compute_ha1, compute_response
from zongji.sip.headers import Headers
from zongji.sip.message import Request, Response
from zongji.sip.uri import parse_uri

MD5 = DigestAlgorithm.MD5


def test_rfc2617_example() -> None:
    """The worked example of RFC 2617 §3.5 (MD5, qop=auth)."""
    ha1 = compute_ha1(DigestAlgorithm.MD5, "Mufasa", "testrealm@host.com", "Circle Of Life")
    response = compute_response(
        algorithm=DigestAlgorithm.MD5,
        ha1=ha1,
        nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
        method="GET",
        uri="/dir/index.html",
        qop="auth",
        nc="00000001",
        cnonce="0a4f113b",
    )
    assert response == "6629fae49393a05397450978507c4ef1"


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        (DigestAlgorithm.MD5, "8ca523f5e9506fed4657c9700eebdbec"),
        (
            DigestAlgorithm.SHA256,
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
        ),
    ],
)
def test_rfc7616_examples(algorithm: DigestAlgorithm, expected: str) -> None:
    """The examples of RFC 7616 §3.9.1 (the same inputs under MD5 and SHA-256)."""
    ha1 = compute_ha1(algorithm, "Mufasa", "http-auth@example.org", "Circle of Life")
    response = compute_response(
        algorithm=algorithm,
        ha1=ha1,
        nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
        method="GET",
        uri="/dir/index.html",
        qop="auth",
        nc="00000001",
        cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
    )
    assert response == expected


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def register_request() -> Request:
    headers = Headers(
        [
            ("Via", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKreg"),
            ("From", "<sip:alice@example.com>;tag=f"),
            ("To", "<sip:alice@example.com>"),
            ("Call-ID", "reg-1"),
            ("CSeq", "1 REGISTER"),
        ]
    )
    return Request("REGISTER", parse_uri("sip:example.com"), headers)


async def challenge_and_answer(
    authenticator: DigestAuthenticator, client: DigestClient, request: Request
) -> Request:
    challenge = authenticator.challenge(request, to_tag="t")
    assert client.authorize(request, challenge)
    return request


@pytest.mark.parametrize("algorithm", [DigestAlgorithm.MD5, DigestAlgorithm.SHA256])
async def test_challenge_and_verify(algorithm: DigestAlgorithm) -> None:
    authenticator = DigestAuthenticator("example.com", {"alice": "pw"}.get, algorithms=(algorithm,))
    request = register_request()
    assert (await authenticator.verify(request)).outcome is AuthOutcome.MISSING
    challenge = authenticator.challenge(request, to_tag="t")
    assert challenge.status == 401
    (offered,) = challenge.www_authenticate
    assert offered.params["algorithm"] == algorithm.value
    assert offered.params["qop"] == "auth"
    client = DigestClient(Credentials("alice", "pw"))
    assert client.authorize(request, challenge)
    (credentials,) = request.authorization
    assert credentials.params["nc"] == "00000001"
    assert credentials.params["qop"] == "auth"
    result = await authenticator.verify(request)
    assert result.ok
    assert result.username == "alice"


async def test_wrong_password_unknown_user_and_tampering() -> None:
    authenticator = DigestAuthenticator("example.com", {"alice": "pw"}.get)
    for user, password in (("alice", "nope"), ("mallory", "pw")):
        request = await challenge_and_answer(
            authenticator, DigestClient(Credentials(user, password)), register_request()
        )
        assert (await authenticator.verify(request)).outcome is AuthOutcome.FAILED
    request = await challenge_and_answer(
        authenticator, DigestClient(Credentials("alice", "pw")), register_request()
    )
    request.method = "INVITE"  # a response computed for REGISTER does not fit INVITE
    assert (await authenticator.verify(request)).outcome is AuthOutcome.FAILED


async def test_forged_nonce_is_never_a_failed_password() -> None:
    """A nonce we did not issue (another key: a forger, or an earlier run of the node) is no
    guess at a password: a wrong answer to it is UNKNOWN_NONCE (challenge, count nothing), a
    right one is STALE (the password is known: challenge again with stale=true)."""
    authenticator = DigestAuthenticator("example.com", {"alice": "pw"}.get)
    other = DigestAuthenticator("example.com", {"alice": "pw"}.get)  # another key
    for password, outcome in (("nope", AuthOutcome.UNKNOWN_NONCE), ("pw", AuthOutcome.STALE)):
        request = await challenge_and_answer(
            other, DigestClient(Credentials("alice", password)), register_request()
        )
        assert (await authenticator.verify(request)).outcome is outcome
    request = register_request()
    request.headers.add(
        "Authorization",
        'Digest username="alice", realm="example.com", nonce="made-up", uri="sip:example.com",'
        ' response="00000000000000000000000000000000", algorithm=SHA-512',
    )
    assert (await authenticator.verify(request)).outcome is AuthOutcome.UNKNOWN_NONCE


async def test_nonce_is_good_only_from_the_source_it_was_issued_to() -> None:
    authenticator = DigestAuthenticator("example.com", {"alice": "pw"}.get)
    request = register_request()
    challenge = authenticator.challenge(request, to_tag="t", source="192.0.2.1")
    assert DigestClient(Credentials("alice", "nope")).authorize(request, challenge)
    # A wrong answer to it is a failed password from where it was sent, noise from elsewhere.
    assert (await authenticator.verify(request, source="192.0.2.1")).outcome is AuthOutcome.FAILED
    elsewhere = await authenticator.verify(request, source="198.51.100.7")
    assert elsewhere.outcome is AuthOutcome.UNKNOWN_NONCE
    request = register_request()
    assert DigestClient(Credentials("alice", "pw")).authorize(request, challenge)
    moved = await authenticator.verify(request, source="198.51.100.7")  # the phone moved
    assert moved.outcome is AuthOutcome.STALE
    assert (await authenticator.verify(request, source="192.0.2.1")).ok


def _answer_with_uri(
    request: Request, challenge: Response, password: str, digest_uri: str
) -> Request:
    """Credentials signed over `digest_uri` instead of the Request-URI (as SIPp does by default:
    `uri="sip:<the address it sends to>"`)."""
    signed = Request(request.method, parse_uri(digest_uri), Headers(list(request.headers)))
    (offered,) = challenge.www_authenticate or challenge.proxy_authenticate
    answer = DigestClient(Credentials("alice", password)).answer(offered, signed)
    assert answer is not None
    assert answer.params["uri"] == digest_uri
    header = "Proxy-Authorization" if challenge.status == 407 else "Authorization"
    request.headers.add(header, answer)
    return request


def invite_request(dialled: str = "8002") -> Request:
    headers = Headers(
        [
            ("Via", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKinv"),
            ("From", "<sip:alice@example.com>;tag=f"),
            ("To", f"<sip:{dialled}@example.com>"),
            ("Call-ID", "inv-1"),
            ("CSeq", "1 INVITE"),
        ]
    )
    return Request("INVITE", parse_uri(f"sip:{dialled}@example.com"), headers)


@pytest.mark.parametrize(
    ("make", "digest_uri"),
    [
        (register_request, "sip:127.0.0.1:5060"),  # SIPp's default for a REGISTER
        (invite_request, "sip:127.0.0.1:5060"),  # ... and for an INVITE
        (invite_request, "sip:8002@10.0.0.1:5060"),  # the number dialled, at our address
        (invite_request, "sip:8002@example.com;user=phone"),
    ],
)
async def test_response_is_verified_against_the_digest_uri_given(
    make: Callable[[], Request], digest_uri: str
) -> None:
    authenticator = DigestAuthenticator("example.com", {"alice": "pw"}.get, algorithms=(MD5,))
    request = make()
    challenge = authenticator.challenge(request, to_tag="t", proxy=request.method == "INVITE")
    _answer_with_uri(request, challenge, "pw", digest_uri)
    proxy = request.method == "INVITE"
    result = await authenticator.verify(request, proxy=proxy)
    assert result.ok, result


async def test_digest_uri_naming_another_number_is_refused_but_no_wrong_password() -> None:
    """Signed for calling 8003, sent as a call to 8002: the right password (never counted as a
    wrong one), but not for this target."""
    authenticator = DigestAuthenticator("example.com", {"alice": "pw"}.get, algorithms=(MD5,))
    request = invite_request("8002")
    challenge = authenticator.challenge(request, to_tag="t", proxy=True)
    _answer_with_uri(request, challenge, "pw", "sip:8003@example.com")
    result = await authenticator.verify(request, proxy=True)
    assert result.outcome is AuthOutcome.OTHER_TARGET
    wrong = invite_request("8002")
    _answer_with_uri(wrong, challenge, "nope", "sip:127.0.0.1:5060")
    assert (await authenticator.verify(wrong, proxy=True)).outcome is AuthOutcome.FAILED


async def test_stale_nonce() -> None:
    clock = Clock()
    authenticator = DigestAuthenticator(
        "example.com", {"alice": "pw"}.get, nonce_lifetime=60, clock=clock
    )
    client = DigestClient(Credentials("alice", "pw"))
    request = await challenge_and_answer(authenticator, client, register_request())
    clock.now += 61
    assert (await authenticator.verify(request)).outcome is AuthOutcome.STALE
    fresh = authenticator.challenge(request, stale=True, to_tag="t")
    assert fresh.www_authenticate[0].params["stale"] == "true"
    request.headers.remove("Authorization")
    assert client.authorize(request, fresh)
    assert (await authenticator.verify(request)).ok


async def test_nonce_count_replay_protection() -> None:
    authenticator = DigestAuthenticator("example.com", {"alice": "pw"}.get)
    client = DigestClient(Credentials("alice", "pw"))
    first = register_request()
    challenge = authenticator.challenge(first, to_tag="t")
    client.authorize(first, challenge)
    assert (await authenticator.verify(first)).ok
    assert (await authenticator.verify(first)).detail == "nonce-count replayed"  # replayed as is
    second = register_request()
    client.authorize(second, challenge)  # the same nonce, next nc
    assert second.authorization[0].params["nc"] == "00000002"
    assert (await authenticator.verify(second)).ok


async def test_tracked_nonces_are_bounded_and_eviction_never_reopens_a_replay() -> None:
    clock = Clock()
    authenticator = DigestAuthenticator(
        "example.com", {"alice": "pw"}.get, max_tracked_nonces=5, clock=clock
    )
    used = []
    for _ in range(20):
        request = await challenge_and_answer(
            authenticator, DigestClient(Credentials("alice", "pw")), register_request()
        )
        assert (await authenticator.verify(request)).ok
        used.append(request)
        clock.now += 1
    assert authenticator.tracked_nonces <= 6
    # The oldest nonce was evicted for space: replaying it is answered as stale, not accepted.
    assert (await authenticator.verify(used[0])).outcome is AuthOutcome.STALE


async def test_ha1_lookup_and_async_lookup() -> None:
    secret = DigestSecret(
        ha1={
            DigestAlgorithm.MD5: compute_ha1(DigestAlgorithm.MD5, "bob", "r", "pw"),
            DigestAlgorithm.SHA256: compute_ha1(DigestAlgorithm.SHA256, "bob", "r", "pw"),
        }
    )

    async def lookup(username: str, realm: str) -> DigestSecret | None:
        return secret if (username, realm) == ("bob", "r") else None

    authenticator = DigestAuthenticator("r", lookup)
    request = await challenge_and_answer(
        authenticator, DigestClient(Credentials("bob", "pw")), register_request()
    )
    assert (await authenticator.verify(request)).ok


async def test_unknown_scheme_and_realm_are_missing_credentials() -> None:
    authenticator = DigestAuthenticator("example.com", {"alice": "pw"}.get)
    request = register_request()
    request.headers.add("Authorization", "NoOneKnowsThisScheme opaque-data=here")
    request.headers.add(
        "Authorization",
        'Digest username="alice", realm="other", nonce="x", uri="sip:example.com", response="0"',
    )
    assert (await authenticator.verify(request)).outcome is AuthOutcome.MISSING
    request.headers.set("Authorization", 'Digest realm="example.com", junk')
    assert (await authenticator.verify(request)).outcome is AuthOutcome.MALFORMED


def test_client_picks_the_first_supported_challenge_and_skips_unknown_ones() -> None:
    authenticator = DigestAuthenticator("example.com", {"alice": "pw"}.get)
    request = register_request()
    challenge = authenticator.challenge(request, to_tag="t")
    challenge.headers.add(
        "WWW-Authenticate", 'Digest realm="example.com", nonce="n", algorithm=SHA-512-256'
    )
    client = DigestClient(Credentials("alice", "pw"))
    assert client.authorize(request, challenge)
    (credentials,) = request.authorization
    assert credentials.params["algorithm"] == "SHA-256"
    only_unknown = request.create_response(401, to_tag="t")
    only_unknown.headers.add(
        "WWW-Authenticate", 'Digest realm="example.com", nonce="n", algorithm=SHA-512-256'
    )
    assert not DigestClient(Credentials("alice", "pw")).authorize(register_request(), only_unknown)
    wrong_realm = DigestClient(Credentials("alice", "pw", realm="elsewhere"))
    assert not wrong_realm.authorize(register_request(), challenge)
