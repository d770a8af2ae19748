"""An SMTP server for the email tests: aiosmtpd on 127.0.0.1, every message it accepts written
to a folder as <n>.eml (the bytes received) with <n>.json (the envelope). Recipients whose local
part starts with "bounce" are refused for good (550 5.1.1: no such mailbox), "busy" for now
(451), "denied" by a policy of the server's (554 5.7.1: a fault of the sender's setup).
With --tls CERT KEY it offers STARTTLS; with --auth USER:PASSWORD it requires that login.
Prints the port it listens on, then serves until stdin closes."""

import argparse
import json
import os
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Sink:
    def __init__(self, folder):
        self.folder = folder
        self.n = 0
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0]
        if local.startswith("bounce"):
            return "550 5.1.1 mailbox unavailable"
        if local.startswith("busy"):
            return "451 4.3.0 try again later"
        if local.startswith("denied"):
            return "554 5.7.1 relay access denied"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.n += 1
            n = self.n
        with open(os.path.join(self.folder, f"{n}.eml"), "wb") as f:
            f.write(envelope.original_content or envelope.content)
        with open(os.path.join(self.folder, f"{n}.json"), "w") as f:
            json.dump({"from": envelope.mail_from, "to": envelope.rcpt_tos,
                       "tls": session.ssl is not None,
                       "login": bool(session.authenticated)}, f)
        return "250 Message accepted"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("folder")
    p.add_argument("--tls", nargs=2)
    p.add_argument("--auth")
    a = p.parse_args()
    kwargs = {}
    if a.tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(a.tls[0], a.tls[1])
        kwargs["tls_context"] = context
        kwargs["require_starttls"] = True
    if a.auth:
        user, password = a.auth.split(":", 1)

        def check(server, session, envelope, mechanism, auth_data):
            ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user \
                and auth_data.password.decode() == password
            return AuthResult(success=ok)

        kwargs["authenticator"] = check
        kwargs["auth_required"] = True
        kwargs["auth_require_tls"] = bool(a.tls)
    # The controller checks its server by connecting to it: it needs a real port, not 0.
    import socket
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Sink(a.folder), hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    print(controller.port, flush=True)
    sys.stdin.read()
    controller.stop()


if __name__ == "__main__":
    main()
