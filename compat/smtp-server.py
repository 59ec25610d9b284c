#!/usr/bin/python3
"""A recording SMTP server for kad's mail tests (Debian's python3-aiosmtpd).

Every connection and every accepted message is appended as one JSON line to --out,
so a test can assert exact envelopes and raw message bytes:

  {"event": "connect", "peer": "127.0.0.1:40000"}
  {"event": "message", "helo": ..., "mail_from": ..., "rcpt_tos": [...],
   "mail_options": [...], "tls": bool, "auth": "user" | null, "data": "<raw DATA>"}

"data" is the message as received after dot-unstuffing, CRLFs kept, decoded as
UTF-8 (invalid bytes become U+FFFD).

Modes:
  normal   a plain aiosmtpd server (optionally STARTTLS, implicit TLS, AUTH)
  tarpit   accepts connections and never sends a byte
  reject   answers every RCPT with 554
  no-ehlo  refuses EHLO with 502 (a HELO-only server)

Once listening it prints "READY <port>" on stdout (port 0 picks a free one).
"""

import argparse
import asyncio
import json
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--out", required=True)
    p.add_argument("--mode", choices=["normal", "tarpit", "reject", "no-ehlo"], default="normal")
    p.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--implicit-tls", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--auth", metavar="USER:PASSWORD", help="require AUTH with these credentials")
    p.add_argument("--smtputf8", action="store_true")
    return p.parse_args()


class Recorder:
    def __init__(self, path):
        self.path = path

    def write(self, record):
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()


def peer_text(transport):
    peer = transport.get_extra_info("peername")
    return f"{peer[0]}:{peer[1]}" if peer else "?"


class Handler:
    def __init__(self, recorder, mode):
        self.recorder = recorder
        self.mode = mode

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.mode == "reject":
            return "554 5.7.1 Relay access denied"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        login = session.auth_data
        self.recorder.write({
            "event": "message",
            "helo": session.host_name,
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "mail_options": envelope.mail_options,
            "tls": server.transport.get_extra_info("ssl_object") is not None,
            "auth": login.decode() if isinstance(login, bytes) else login,
            "data": envelope.original_content.decode("utf-8", errors="replace"),
        })
        return "250 Message accepted for delivery"


def make_smtp_class(recorder, mode):
    class RecordingSMTP(SMTP):
        def connection_made(self, transport):
            recorder.write({"event": "connect", "peer": peer_text(transport)})
            super().connection_made(transport)

        async def smtp_EHLO(self, hostname):
            if mode == "no-ehlo":
                await self.push("502 5.5.2 Error: command not recognized")
                return
            await super().smtp_EHLO(hostname)

    return RecordingSMTP


class Tarpit(asyncio.Protocol):
    def __init__(self, recorder):
        self.recorder = recorder

    def connection_made(self, transport):
        self.transport = transport
        self.recorder.write({"event": "connect", "peer": peer_text(transport)})

    def data_received(self, data):
        pass


def tls_context(cert, key):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


async def main():
    args = parse_args()
    recorder = Recorder(args.out)
    loop = asyncio.get_running_loop()

    if args.mode == "tarpit":
        factory = lambda: Tarpit(recorder)
        server_ssl = None
    else:
        kwargs = {"enable_SMTPUTF8": args.smtputf8, "hostname": "kad-test-smtp"}
        if args.starttls:
            kwargs["tls_context"] = tls_context(*args.starttls)
        if args.auth:
            user, password = args.auth.split(":", 1)

            def authenticator(server, session, envelope, mechanism, auth_data):
                ok = (auth_data.login.decode() == user and auth_data.password.decode() == password)
                return AuthResult(success=ok, handled=False, auth_data=auth_data.login if ok else None)

            kwargs["authenticator"] = authenticator
            kwargs["auth_required"] = True
            # Implicit TLS is TLS as well, but aiosmtpd only knows about STARTTLS.
            kwargs["auth_require_tls"] = not args.implicit_tls
        handler = Handler(recorder, args.mode)
        smtp_class = make_smtp_class(recorder, args.mode)
        factory = lambda: smtp_class(handler, **kwargs)
        server_ssl = tls_context(*args.implicit_tls) if args.implicit_tls else None

    server = await loop.create_server(factory, args.host, args.port, ssl=server_ssl,
                                      reuse_address=True)
    port = server.sockets[0].getsockname()[1]
    print(f"READY {port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
