"""Property tests: what we write parses back to the same value, and no input breaks the parser.

- `parse(serialise(m)) == m` for generated URIs, addresses, Vias, auth headers and whole
  requests and responses;
- arbitrary bytes (and mutations of real messages) make the parser raise `SipParseError`
  and nothing else, also when every typed accessor is then read.
"""

from __future__ import annotations

import contextlib
import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sip_fakes import rfc4475

from zongji.sip.address import NameAddress, parse_address
from zongji.sip.errors import SipParseError
from zongji.sip.fields import (
    AuthChallenge,
    AuthCredentials,
    Via,
    parse_challenge,
    parse_credentials,
    parse_via_list,
)
from zongji.sip.grammar import Params, quote
from zongji.sip.headers import Headers
from zongji.sip.message import Message, Request, Response
from zongji.sip.parser import Limits, parse_message
from zongji.sip.sdp import SdpParseError, parse_sdp
from zongji.sip.transport.framing import StreamFramer
from zongji.sip.uri import AbsoluteUri, SipUri, TelUri, Uri, parse_uri
from zongji.sip.validation import validate_request, validate_response

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TOKEN_ALPHABET = string.ascii_letters + string.digits + "-.!%*_+`'~"

# Text without CR/LF and without lone surrogates (which cannot be octets).
text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=20
)
tokens = st.text(TOKEN_ALPHABET, min_size=1, max_size=12)
lower_names = st.text(
    string.ascii_lowercase + string.digits + "-.!%*_+`'~", min_size=1, max_size=10
)
hostnames = st.from_regex(
    r"[a-z0-9]([a-z0-9\-]{0,10}[a-z0-9])?(\.[a-z0-9]{1,8}){0,3}", fullmatch=True
)
ipv4 = st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t)))
ipv6 = st.sampled_from(["[::1]", "[2001:db8::7]", "[fe80::1:2]"])
hosts = st.one_of(hostnames, ipv4, ipv6)
ports = st.none() | st.integers(1, 65535)


def uri_params(values: st.SearchStrategy[str | None]) -> st.SearchStrategy[Params]:
    names = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=8).filter(
        lambda n: n.lower() == n
    )
    return st.dictionaries(names, values, max_size=4).map(Params)


sip_uris = st.builds(
    SipUri,
    host=hosts,
    user=st.none() | st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12),
    password=st.none() | text,
    port=ports,
    params=uri_params(
        st.none() | st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=8)
    ),
    headers=st.lists(st.tuples(st.text(min_size=1, max_size=6), text), max_size=3).map(tuple),
    scheme=st.sampled_from(["sip", "sips"]),
).filter(lambda u: u.password is None or u.user is not None)
tel_uris = st.builds(
    TelUri,
    number=st.text("0123456789-.()*#+", min_size=1, max_size=15),
    params=uri_params(
        st.none() | st.text(string.ascii_letters + string.digits, min_size=1, max_size=6)
    ),
)
absolute_uris = st.builds(
    AbsoluteUri,
    scheme=st.from_regex(r"[a-z][a-z0-9+\-.]{0,6}", fullmatch=True).filter(
        lambda s: s not in ("sip", "sips", "tel")
    ),
    opaque=st.text(
        string.ascii_letters + string.digits + "/:@.-_~!$&'()*+,;=?", min_size=1, max_size=20
    ),
)
uris: st.SearchStrategy[Uri] = st.one_of(sip_uris, tel_uris, absolute_uris)
header_param_values = st.none() | tokens | text.map(quote)
header_params = st.dictionaries(lower_names, header_param_values, max_size=4).map(Params)
addresses = st.builds(
    NameAddress,
    uri=uris,
    display_name=st.none() | text,
    params=header_params,
)
vias = st.builds(
    Via,
    transport=st.sampled_from(["UDP", "TCP", "TLS", "WS", "WSS", "SCTP"]),
    host=hosts,
    port=ports,
    params=header_params,
)


@FAST
@given(uris)
def test_uri_round_trip(uri: Uri) -> None:
    assert parse_uri(str(uri)) == uri


@FAST
@given(addresses)
def test_address_round_trip(address: NameAddress) -> None:
    assert parse_address(str(address)) == address


@FAST
@given(st.lists(vias, min_size=1, max_size=3))
def test_via_round_trip(values: list[Via]) -> None:
    assert parse_via_list(", ".join(map(str, values))) == values


auth_params = st.dictionaries(lower_names, text, min_size=1, max_size=5)


@FAST
@given(tokens, auth_params)
def test_auth_round_trip(scheme: str, params: dict[str, str]) -> None:
    assert parse_challenge(str(AuthChallenge(scheme, params))) == AuthChallenge(scheme, params)
    assert parse_credentials(str(AuthCredentials(scheme, params))) == AuthCredentials(
        scheme, params
    )


# Raw header values as a peer may send them: no CR/LF, no LWS at either end.
header_values = text.map(lambda s: s.strip(" \t"))
header_names = st.one_of(
    st.sampled_from(
        ["Via", "From", "To", "Call-ID", "CSeq", "Contact", "Route", "X-Custom", "v", "m"]
    ),
    tokens,
).filter(lambda n: n.lower() not in ("content-length", "l"))


def build_headers(fields: list[tuple[str, str]]) -> Headers:
    return Headers(fields)


requests = st.builds(
    Request,
    method=tokens,
    uri=uris,
    headers=st.lists(st.tuples(header_names, header_values), max_size=12).map(build_headers),
    body=st.binary(max_size=200),
)
responses = st.builds(
    Response,
    status=st.integers(100, 699),
    reason=text.filter(lambda s: "\x00" not in s),
    headers=st.lists(st.tuples(header_names, header_values), max_size=12).map(build_headers),
    body=st.binary(max_size=200),
)


@FAST
@given(st.one_of(requests, responses), st.booleans())
def test_message_round_trip(message: Message, datagram: bool) -> None:
    assert parse_message(message.encode(), datagram=datagram) == message


def read_everything(message: Message) -> None:
    """Touch every typed accessor: each must succeed or raise SipParseError."""
    for name in (
        "via", "from_addr", "to_addr", "call_id", "cseq", "max_forwards", "contacts",
        "contact_is_star", "route", "record_route", "path", "refer_to", "content_type",
        "accept", "require", "proxy_require", "supported", "unsupported", "allow", "expires",
        "min_expires", "event", "subscription_state", "www_authenticate", "proxy_authenticate",
        "authorization", "proxy_authorization",
    ):  # fmt: skip
        with contextlib.suppress(SipParseError):
            getattr(message, name)
    try:
        if isinstance(message, Request):
            validate_request(message)
        else:
            validate_response(message)
    except SipParseError:
        pass


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=600))
def test_arbitrary_bytes_raise_only_parse_errors(data: bytes) -> None:
    try:
        message = parse_message(data, limits=Limits(max_headers=20))
    except SipParseError:
        return
    read_everything(message)


SEEDS = [
    rfc4475(n) for n in ("wsinv.dat", "intmeth.dat", "esc01.dat", "mpart01.dat", "longreq.dat")
]


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(SEEDS),
    st.lists(st.tuples(st.integers(0, 4000), st.binary(max_size=4)), max_size=6),
)
def test_mutated_messages_raise_only_parse_errors(
    seed: bytes, edits: list[tuple[int, bytes]]
) -> None:
    data = bytearray(seed)
    for position, replacement in edits:
        position %= len(data)
        data[position : position + len(replacement)] = replacement
    for datagram in (True, False):
        try:
            message = parse_message(bytes(data), datagram=datagram)
        except SipParseError:
            continue
        read_everything(message)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=10))
def test_framer_accepts_any_segments(segments: list[bytes]) -> None:
    framer = StreamFramer(Limits(max_message_size=500, max_header_section=300))
    try:
        for segment in segments:
            for _, payload in framer.feed(segment):
                with contextlib.suppress(SipParseError):
                    parse_message(payload, datagram=False)
    except SipParseError:
        pass
    assert framer.pending <= 500 + 80


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_sdp_parser_raises_only_its_error(data: bytes) -> None:
    with contextlib.suppress(SdpParseError):
        parse_sdp(b"v=0\r\n" + data)
