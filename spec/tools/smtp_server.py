"""A real SMTP server on loopback for fsec's mail specs (aiosmtpd).

Each message accepted is written to DIR/<n>.eml (the DATA as received,
CRLF kept), its envelope to DIR/<n>.env (MAIL FROM, then each RCPT TO, one
a line); a file DIR/ready holds the port once listening. Options:
  --port N           listen on 127.0.0.1:N (0: any free port)
  --dir DIR          where messages go
  --tls CERT KEY     offer STARTTLS with this certificate
  --ssl CERT KEY     TLS from the first byte (implicit TLS)
  --auth USER PASS   require AUTH (PLAIN or LOGIN) with these (over TLS)
  --reject-rcpt ADDR answer 550 to RCPT TO:<ADDR>
Stops on SIGTERM.
"""
import argparse
import asyncio
import os
import signal
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Store:
    def __init__(self, folder, reject):
        self.folder = folder
        self.reject = reject
        self.lock = threading.Lock()
        self.n = len([f for f in os.listdir(folder) if f.endswith(".eml")])

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address == self.reject:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.n += 1
            base = os.path.join(self.folder, "%06d" % self.n)
        with open(base + ".env.tmp", "w") as f:
            f.write(envelope.mail_from + "\n")
            for r in envelope.rcpt_tos:
                f.write(r + "\n")
            tls = session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None
            f.write("tls=%s auth=%s\n" % (tls, bool(session.authenticated)))
        os.rename(base + ".env.tmp", base + ".env")
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content)
        os.rename(base + ".eml.tmp", base + ".eml")
        return "250 2.0.0 queued as %06d" % self.n


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--dir", required=True)
    p.add_argument("--tls", nargs=2)
    p.add_argument("--ssl", nargs=2)
    p.add_argument("--auth", nargs=2)
    p.add_argument("--reject-rcpt")
    a = p.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    kw = {}
    if a.tls:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(*a.tls)
        kw["tls_context"] = ctx
        kw["require_starttls"] = True
    if a.ssl:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(*a.ssl)
        kw["ssl_context"] = ctx
    if a.auth:
        user, password = a.auth[0].encode(), a.auth[1].encode()

        def check(server, session, envelope, mechanism, data):
            ok = isinstance(data, LoginPassword) and data.login == user and data.password == password
            return AuthResult(success=ok, handled=False)

        kw["authenticator"] = check
        kw["auth_required"] = True
        kw["auth_require_tls"] = True
    port = a.port
    if port == 0:
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
    c = Controller(Store(a.dir, a.reject_rcpt), hostname="127.0.0.1", port=port,
                   server_hostname="localhost", ready_timeout=10, **kw)
    c.start()
    with open(os.path.join(a.dir, "ready.tmp"), "w") as f:
        f.write(str(port))
    os.rename(os.path.join(a.dir, "ready.tmp"), os.path.join(a.dir, "ready"))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    c.stop()
    sys.exit(0)


if __name__ == "__main__":
    main()
