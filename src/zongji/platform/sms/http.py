"""`HttpSmsGateway`: posts each message to a provider's HTTP API, synchronously (no queue)."""

from __future__ import annotations

import logging

import httpx

from zongji.platform.sms.message import SmsMessage, sms_unavailable

log = logging.getLogger(__name__)


class HttpSmsGateway:
    """POSTs `{"to", "text", "signature"}` as JSON with a bearer token; any 2xx is accepted.

    Providers differ in their APIs; a small adapter service in front of a provider, or a subclass
    overriding `_request`, maps this shape to theirs.
    """

    def __init__(
        self,
        url: str,
        token: str,
        signature: str,
        *,
        timeout: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._url = url
        self._signature = signature
        self._client = httpx.AsyncClient(
            timeout=timeout,
            transport=transport,
            headers={"Authorization": f"Bearer {token}"} if token else {},
        )

    async def send(self, message: SmsMessage) -> None:
        try:
            response = await self._client.post(self._url, json=self._request(message))
        except httpx.HTTPError as exc:
            log.warning("SMS gateway unreachable", extra={"error": type(exc).__name__})
            raise sms_unavailable() from None  # the request (with the text) stays out of tracebacks
        if not response.is_success:
            log.warning("SMS gateway refused", extra={"status": response.status_code})
            raise sms_unavailable()

    def _request(self, message: SmsMessage) -> dict[str, str]:
        return {"to": message.to, "text": message.text, "signature": self._signature}

    async def close(self) -> None:
        await self._client.aclose()
