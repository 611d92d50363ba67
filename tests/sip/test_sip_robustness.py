"""Requests are always answered and transactions always end, whatever the application does.

A malformed field only the user agent reads, a handler that raises, one that never answers, an
INVITE nobody picks up: each gets a response, and the tables are empty once the timers ran.
"""

from __future__ import annotations

from sip_fakes import Element, settle

from zongji.sip.ua import IncomingRequest

OPTIONS = (
    b"OPTIONS sip:ua@192.0.2.200 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK{n}\r\n"
    b"From: <sip:a@192.0.2.1>;tag=1\r\n"
    b"To: <sip:ua@192.0.2.200>\r\n"
    b"Call-ID: robust-{n}\r\n"
    b"CSeq: 1 {method}\r\n"
    b"{extra}"
    b"Content-Length: 0\r\n\r\n"
)


def request(n: int, method: str = "OPTIONS", extra: bytes = b"") -> bytes:
    return (
        OPTIONS.replace(b"{n}", str(n).encode())
        .replace(b"{extra}", extra)
        .replace(b"{method}", method.encode())
        .replace(b"OPTIONS sip:", method.encode() + b" sip:")
    )


async def drain(element: Element) -> None:
    element.clock.advance(40)  # past Timers J, H, L
    await settle(element.network)
    assert element.ua.transactions.active == 0
    assert element.ua.dialogs == {}
    assert element.clock.pending == 0


async def test_malformed_field_read_by_the_ua_gets_400(element: Element) -> None:
    (response,) = await element.receive(request(1, extra=b"Require: two words\r\n"))
    assert response.status == 400
    await drain(element)


async def test_handler_that_raises_gets_500(element: Element) -> None:
    def broken(incoming: IncomingRequest) -> None:
        raise RuntimeError("application bug")

    element.ua.on_request = broken
    (response,) = await element.receive(request(2))
    assert response.status == 500
    (response,) = await element.receive(request(3, "INVITE"))
    assert response.status == 500
    await drain(element)


async def test_async_handler_that_raises_gets_500(element: Element) -> None:
    async def broken(incoming: IncomingRequest) -> None:
        raise RuntimeError("application bug")

    element.ua.on_request = broken
    (response,) = await element.receive(request(4))
    assert response.status == 500
    await drain(element)


async def test_unanswered_requests_are_answered_for_the_application(element: Element) -> None:
    kept: list[IncomingRequest] = []
    element.ua.on_request = kept.append  # never answers
    assert await element.receive(request(5)) == []
    assert await element.receive(request(6, "INVITE")) == []
    element.clock.advance(element.ua.unanswered_request_timeout + 0.1)
    await settle(element.network)
    assert [r.status for r in _responses(element)] == [500]  # the OPTIONS
    element.clock.advance(element.ua.max_ring_time)
    await settle(element.network)
    # and the INVITE (the 480 is then retransmitted by Timer G: no ACK comes here)
    assert list(dict.fromkeys(r.status for r in _responses(element))) == [500, 480]
    await drain(element)


def _responses(element: Element):  # type: ignore[no-untyped-def]
    from sip_fakes import responses

    return [r for r in responses(element.transport.sent) if r.status >= 200]


async def test_merged_request_gets_482(element: Element) -> None:
    """The same request by two paths (another branch): RFC 3261 §8.2.2.2."""
    first = request(7)
    (response,) = await element.receive(first)
    assert response.status == 200
    merged = first.replace(b"branch=z9hG4bK7", b"branch=z9hG4bKother")
    (response,) = await element.receive(merged)
    assert response.status == 482
    assert len(element.seen) == 1
    await drain(element)
    assert element.ua._open_requests == {}
    (response,) = await element.receive(merged)  # long after: a new request again
    assert response.status == 200
