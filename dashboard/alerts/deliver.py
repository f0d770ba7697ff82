"""Sending notifications: webhook, Slack, Teams and email, from the queue in the database.

A notification is a row before anything is sent (service.py writes it in the round's
transaction). The sender takes the due ones, tries each once, and records the attempt;
a failure is tried again after a back-off (5 s, doubling, at most 10 min) until it has
failed for a day. It runs beside the sampler, in the process holding the lease, on its own
thread, so a receiver that hangs never delays a round.
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
import ssl
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import requests
from django.conf import settings
from django.db import transaction

from dashboard.alerts.models import Notification
from dashboard.alerts.rules import Receiver

log = logging.getLogger("kafkaview.alerts")

BACKOFF_FIRST = 5.0
BACKOFF_MAX = 600.0
NOTIFY_GIVE_UP = timedelta(days=1)
SEND_TIMEOUT = 10.0


class SendError(Exception):
    """A receiver did not take the notification (its answer, or why it could not be asked)."""


def backoff(attempts: int) -> float:
    """Seconds before the next try after `attempts` failed ones."""
    return min(BACKOFF_FIRST * 2 ** max(attempts - 1, 0), BACKOFF_MAX)


def summary(payload: dict[str, Any]) -> str:
    """One line for chat receivers and email subjects."""
    word = {"open": "FIRING", "remind": "STILL FIRING", "resolved": "RESOLVED", "test": "TEST"}
    return (
        f"[{word.get(payload['state'], payload['state'])}] {payload['severity']}: "
        f"{payload['rule']} on {payload['subject']} — {payload['text']}"
    )


def _url(receiver: Receiver) -> str:
    url = os.environ.get(receiver.url_env or "", "")
    if not url.startswith(("http://", "https://")):
        raise SendError(f"${receiver.url_env} is not set to an http(s) URL")
    return url


def _post(url: str, body: dict[str, Any]) -> str:
    try:
        answer = requests.post(url, json=body, timeout=SEND_TIMEOUT, allow_redirects=False)
    except requests.RequestException as exc:
        raise SendError(f"could not post: {type(exc).__name__}") from None
    if not 200 <= answer.status_code < 300:
        raise SendError(f"answered {answer.status_code}")
    return f"answered {answer.status_code}"


def _email(receiver: Receiver, payload: dict[str, Any]) -> str:
    smtp: dict[str, Any] = settings.KAFKAVIEW_SMTP
    if not smtp["host"]:
        raise SendError("KAFKAVIEW_SMTP_HOST is not set")
    message = EmailMessage()
    message["Subject"] = summary(payload)[:250]
    message["From"] = smtp["from"]
    message["To"] = ", ".join(receiver.to)
    message.set_content(
        f"{summary(payload)}\n\n{payload['link']}\n\n{json.dumps(payload, indent=2)}\n"
    )
    try:
        if smtp["tls"] == "ssl":
            server: smtplib.SMTP = smtplib.SMTP_SSL(
                smtp["host"],
                smtp["port"],
                timeout=SEND_TIMEOUT,
                context=ssl.create_default_context(),
            )
        else:
            server = smtplib.SMTP(smtp["host"], smtp["port"], timeout=SEND_TIMEOUT)
        with server:
            if smtp["tls"] == "starttls":
                server.starttls(context=ssl.create_default_context())
            if smtp["user"]:
                server.login(smtp["user"], smtp["password"])
            server.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise SendError(f"SMTP: {type(exc).__name__}: {str(exc)[:200]}") from None
    return f"mailed {len(receiver.to)} address(es)"


def send(receiver: Receiver, payload: dict[str, Any]) -> str:
    """Deliver one notification to one receiver; what it answered, or SendError."""
    if receiver.type == "email":
        return _email(receiver, payload)
    if receiver.type == "webhook":
        return _post(_url(receiver), payload)
    # Slack's and Teams' incoming webhooks both take {"text": ...}.
    return _post(_url(receiver), {"text": f"{summary(payload)}\n{payload['link']}"})


def deliver_due(
    *, now: Callable[[], datetime], sender: Callable[[Receiver, dict[str, Any]], str] = send
) -> int:
    """Try every notification that is due once; returns how many were sent."""
    rules = settings.KAFKAVIEW_ALERTS
    sent = 0
    due = list(
        Notification.objects.filter(state=Notification.State.PENDING, next_at__lte=now()).order_by(
            "next_at", "id"
        )[:100]
    )
    for n in due:
        receiver = rules.receivers.get(n.receiver)
        at = now()
        try:
            if receiver is None:
                raise SendError(f"no receiver {n.receiver!r} in {rules.source} any more")
            detail, ok = sender(receiver, n.payload), True
        except SendError as exc:
            detail, ok = str(exc), False
        except Exception as exc:  # a bug must not stop the queue
            log.exception("sending notification %s failed", n.pk)
            detail, ok = f"internal error: {type(exc).__name__}", False
        n.attempts = [*n.attempts, {"at": at.isoformat(), "ok": ok, "detail": detail[:300]}]
        if ok:
            n.state, n.sent_at = Notification.State.SENT, at
            sent += 1
        elif at - n.created_at >= NOTIFY_GIVE_UP:
            n.state = Notification.State.FAILED
        else:
            n.next_at = at + timedelta(seconds=backoff(len(n.attempts)))
        with transaction.atomic():
            n.save(update_fields=["attempts", "state", "sent_at", "next_at"])
    return sent


class Dispatcher:
    """The sending thread: deliver_due() every `every` seconds while `may_send()` says so
    (the process holds the sampler's lease), until stop()."""

    def __init__(
        self,
        *,
        may_send: Callable[[], bool],
        now: Callable[[], datetime],
        every: float = 1.0,
        beside: Callable[[], object] | None = None,
    ) -> None:
        self.may_send, self.now, self.every = may_send, now, every
        # Run before each pass (the sampler-stale rules): apart from the rounds' thread.
        self.beside = beside
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alert-sender", daemon=True)

    def start(self) -> None:
        """Start sending."""
        self._thread.start()

    def stop(self) -> None:
        """Stop after the notification being sent."""
        self._stop.set()
        self._thread.join(timeout=SEND_TIMEOUT + 5)

    def _run(self) -> None:
        from django.db import connection

        try:
            while not self._stop.wait(self.every):
                if not self.may_send():
                    continue
                try:
                    if self.beside is not None:
                        self.beside()
                    deliver_due(now=self.now)
                except Exception:
                    log.exception("the alert sender failed a pass; going on")
        finally:
            connection.close()
