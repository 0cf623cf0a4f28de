"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives.

``fail_first`` makes it answer ``451`` (try again later) to the first delivery
attempt for chosen recipients, so tests can force the sender's retries.
"""

import email
import socket
import threading
from collections.abc import Callable
from contextlib import contextmanager
from email.message import Message
from email.policy import default

from aiosmtpd.controller import Controller


class Mailbox:
    def __init__(self, fail_first: Callable[[str], bool] = lambda _address: False):
        self.messages: list[Message] = []
        self.refused: list[str] = []
        self._fail_first = fail_first
        self._failed_once: set[str] = set()
        self._lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self._lock:
            if self._fail_first(address) and address not in self._failed_once:
                self._failed_once.add(address)
                self.refused.append(address)
                return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self._lock:
            self.messages.append(email.message_from_bytes(envelope.content, policy=default))
        return "250 Message accepted"

    def to(self, address: str) -> list[Message]:
        with self._lock:
            return [m for m in self.messages if m["To"] == address]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def smtp_server(fail_first: Callable[[str], bool] = lambda _address: False):
    mailbox = Mailbox(fail_first)
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()
