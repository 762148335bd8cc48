"""Sending one message to one channel, and judging the answer: done, retry, or give up.

Webhook bodies are signed: `X-Remote-Agents-Signature: sha256=<hex>` is HMAC-SHA256 with the
channel's secret over `<timestamp>.<body>`, the timestamp (Unix seconds) being sent as
`X-Remote-Agents-Timestamp`, so a receiver can refuse replays of old messages.
"""

import hashlib
import hmac
import json
import smtplib
import time
from dataclasses import dataclass

import httpx
from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from alerts import messages
from alerts.models import Kind

SIGNATURE_HEADER = "X-Remote-Agents-Signature"
TIMESTAMP_HEADER = "X-Remote-Agents-Timestamp"
DELIVERY_HEADER = "X-Remote-Agents-Delivery"


@dataclass(frozen=True)
class Result:
    ok: bool
    retry: bool = False
    status_code: int | None = None
    excerpt: str = ""
    error: str = ""

    def describe(self) -> str:
        if self.status_code is not None:
            return f"HTTP {self.status_code}" + (f": {self.excerpt[:200]}" if self.excerpt else "")
        return self.error or "unknown error"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def send(channel, delivery) -> Result:
    payload = delivery.payload
    if channel.kind == Kind.EMAIL:
        return _email(channel, payload)
    if channel.kind == Kind.SLACK:
        body = json.dumps({"text": messages.text(payload, bullet="•")}).encode()
        return _post(channel.url, body, {})
    body = json.dumps({**payload, "deliveryId": str(delivery.pk)}).encode()
    timestamp = str(int(time.time()))
    headers = {
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(channel.secret, timestamp, body),
        DELIVERY_HEADER: str(delivery.pk),
    }
    return _post(channel.url, body, headers)


def _post(url: str, body: bytes, headers: dict) -> Result:
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "remote-agents-console-alerts/1",
        **headers,
    }
    timeout = settings.ALERT_DELIVERY_TIMEOUT_SECONDS
    try:
        # Redirects are not followed: a signed body must reach the configured URL or nowhere.
        with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=True) as client:
            response = client.post(url, content=body, headers=headers)
    except httpx.TimeoutException:
        return Result(ok=False, retry=True, error=f"No answer within {timeout} s")
    except (httpx.HTTPError, ValueError) as error:
        return Result(ok=False, retry=True, error=f"Could not connect: {error}"[:500])
    excerpt = response.text[:500]
    code = response.status_code
    return Result(ok=200 <= code < 300, retry=code >= 500, status_code=code, excerpt=excerpt)


def _email(channel, payload: dict) -> Result:
    subject = payload["summary"][:200].replace("\n", " ")
    message = EmailMessage(
        subject=subject,
        body=messages.text(payload),
        to=list(channel.recipients),
        connection=get_connection(timeout=settings.ALERT_DELIVERY_TIMEOUT_SECONDS),
    )
    try:
        message.send()
    except smtplib.SMTPRecipientsRefused as error:
        codes = [code for code, _ in error.recipients.values()]
        return Result(
            ok=False,
            retry=all(400 <= c < 500 for c in codes),
            error=f"Recipients refused: {error.recipients}"[:500],
        )
    except smtplib.SMTPResponseException as error:
        # SMTP's 4xx are temporary and worth another try; 5xx are final.
        reply = (
            error.smtp_error.decode(errors="replace")
            if isinstance(error.smtp_error, bytes)
            else str(error.smtp_error)
        )
        return Result(
            ok=False,
            retry=400 <= error.smtp_code < 500,
            error=f"SMTP {error.smtp_code}: {reply}"[:500],
        )
    except (smtplib.SMTPException, OSError) as error:
        return Result(ok=False, retry=True, error=f"Could not send e-mail: {error}"[:500])
    return Result(ok=True, excerpt=f"Accepted for {len(channel.recipients)} recipient(s)")
