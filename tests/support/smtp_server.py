"""A test SMTP server on loopback (aiosmtpd) for tests/mail.rs and tests/mail_tls.rs.

Stores every message it accepts, byte for byte, in a Maildir. Options:
  --listen HOST:PORT   where to listen (loopback only)
  --maildir DIR        where to store messages (new/)
  --mode MODE          plain (default), starttls (STARTTLS required) or tls (TLS from the first byte)
  --cert FILE --key FILE   the server's certificate chain and key (PEM) for starttls and tls
  --delay SECONDS      answer DATA only after this long (a slow server)
Prints "ready" on stdout once it listens; runs until killed.
"""

import argparse
import asyncio
import logging
import mailbox
import ssl
import sys

from aiosmtpd.smtp import SMTP


class Store:
    def __init__(self, maildir, delay):
        self.maildir = mailbox.Maildir(maildir, create=True)
        self.delay = delay

    async def handle_DATA(self, server, session, envelope):
        if self.delay > 0:
            await asyncio.sleep(self.delay)
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        self.maildir.add(content)
        return "250 Message accepted for delivery"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--maildir", required=True)
    ap.add_argument("--mode", choices=["plain", "starttls", "tls"], default="plain")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--delay", type=float, default=0.0)
    a = ap.parse_args()
    # A refused handshake is what some tests expect: keep aiosmtpd's tracebacks out of the log.
    logging.getLogger("mail.log").setLevel(logging.CRITICAL)
    host, port = a.listen.rsplit(":", 1)
    context = None
    if a.mode != "plain":
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(a.cert, a.key)
    handler = Store(a.maildir, a.delay)

    def factory():
        return SMTP(
            handler,
            hostname="localhost",
            enable_SMTPUTF8=True,
            tls_context=context if a.mode == "starttls" else None,
            require_starttls=a.mode == "starttls",
        )

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(
        loop.create_server(
            factory, host, int(port), ssl=context if a.mode == "tls" else None
        )
    )
    print("ready", flush=True)
    try:
        loop.run_forever()
    finally:
        server.close()


if __name__ == "__main__":
    sys.exit(main())
