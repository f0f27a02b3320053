"""The loopback SMTP server that receives the bot's mail: aiosmtpd (a real SMTP implementation,
AUTH PLAIN/LOGIN without TLS on loopback), run as a subprocess.

    python -m tests.peers.email_peer --port 0 --spool DIR --user bot@x --password pw

Every accepted message is written to DIR as <n>.eml (the raw bytes) plus <n>.json (envelope and
login), the .json last and by rename, so a reader that sees it sees the whole message. A file
DIR/FAIL holding e.g. "451 4.3.0 try again later" makes DATA answer that until it is removed."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from tests.peers.serving import until_stopped


class Spool:
    def __init__(self, folder: Path, user: str, password: str) -> None:
        self.folder = folder
        self.user, self.password = user.encode(), password.encode()
        self.count = len(list(folder.glob("*.json")))

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == self.user
            and auth_data.password == self.password
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    async def handle_DATA(self, server, session, envelope) -> str:
        failure = self.folder / "FAIL"
        if failure.exists():
            return failure.read_text().strip() or "451 4.3.0 try again later"
        self.count += 1
        stem = self.folder / f"{self.count:06d}"
        Path(f"{stem}.eml").write_bytes(envelope.original_content or envelope.content)
        auth = session.auth_data
        login = auth.login.decode() if isinstance(auth, LoginPassword) else ""
        meta = {"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos, "login": login}
        temporary = Path(f"{stem}.json.tmp")
        temporary.write_text(json.dumps(meta))
        temporary.rename(f"{stem}.json")
        return "250 OK"


async def serve(port: int, spool: Spool) -> None:
    loop = asyncio.get_running_loop()

    def protocol() -> SMTP:
        return SMTP(
            spool,
            hostname="smtp.loopback",
            authenticator=spool.authenticate,
            auth_require_tls=False,
            auth_required=True,
        )

    server = await loop.create_server(protocol, "127.0.0.1", port)
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    try:
        await until_stopped()
    finally:
        server.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--spool", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    args = parser.parse_args()
    folder = Path(args.spool)
    folder.mkdir(parents=True, exist_ok=True)
    asyncio.run(serve(args.port, Spool(folder, args.user, args.password)))


if __name__ == "__main__":
    main()
