"""The e-mail world of a test: a real dovecot (the bot's IMAP mailbox) and the aiosmtpd peer (where
the bot's replies land). Mail *to* the bot is put into its INBOX with IMAP APPEND, as the real
MTA's delivery would; mail *from* the bot is read back from the SMTP peer's spool.

    world = EmailWorld.start()                 # raises RuntimeError with the reason if impossible
    await world.deliver(mail("alice@example.com", "hello"))
    [reply] = await world.wait_sent(1, to="alice@example.com")
    world.stop()"""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

import aioimaplib

from hermes_gateway.platforms.email.convert import parse
from tests.peers.email_server import Dovecot, missing_reason
from tests.peers.fixtures import Peer, start_peer

BOT = "hermes@bot.test"
BOT_PASSWORD = "bot-secret-pw-4711"
WAIT = 15.0


def mail(
    sender: str,
    text: str | None,
    *,
    subject: str = "Hello Hermes",
    to: str = BOT,
    headers: dict[str, str] | None = None,
    attachments: list[tuple[str, str, bytes]] = (),  # (filename, mime type, data)
    reply_to: SentMail | None = None,
    message_id: str = "",
) -> bytes:
    """A mail as a user's client would send it (None as `sender`: no From header at all)."""
    message = EmailMessage()
    if sender is not None:
        message["From"] = sender
    message["To"] = to
    if reply_to is not None:  # as a client's Reply does: one "Re:" prefix
        subject = reply_to.subject
        subject = subject if subject.lower().startswith("re:") else f"Re: {subject}"
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = message_id or make_msgid(
        domain=sender.split("@")[-1] if sender else None
    )
    if reply_to is not None:
        message["In-Reply-To"] = reply_to.message_id
        message["References"] = f"{reply_to.references} {reply_to.message_id}".strip()
    for name, value in (headers or {}).items():
        message[name] = value
    if text is not None:
        message.set_content(text)
    for filename, mime, data in attachments:
        major, _, minor = mime.partition("/")
        message.add_attachment(data, maintype=major, subtype=minor, filename=filename)
    return bytes(message)


@dataclass(frozen=True)
class SentMail:
    """A mail the bot sent, as the SMTP peer received it."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    login: str
    message: EmailMessage

    @property
    def to(self) -> str:
        return str(self.message["To"])

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    @property
    def in_reply_to(self) -> str:
        return str(self.message.get("In-Reply-To", ""))

    @property
    def references(self) -> str:
        return str(self.message.get("References", ""))

    @property
    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content().replace("\r\n", "\n").rstrip("\n") if part is not None else ""

    @property
    def html(self) -> str:
        part = self.message.get_body(preferencelist=("html",))
        return part.get_content() if part is not None else ""

    def attachments(self) -> list[tuple[str, bytes]]:
        return [
            (p.get_filename(), p.get_payload(decode=True)) for p in self.message.iter_attachments()
        ]


class EmailWorld:
    def __init__(self, dovecot: Dovecot, smtp: Peer, spool: Path) -> None:
        self.dovecot = dovecot
        self.smtp = smtp
        self.spool = spool

    @classmethod
    def start(cls) -> EmailWorld:
        reason = missing_reason()
        if reason is not None:
            raise RuntimeError(reason)
        dovecot = Dovecot({BOT: BOT_PASSWORD})
        try:
            dovecot.start()
            spool = dovecot.root / "smtp-spool"
            spool.mkdir()
            smtp = start_peer(
                "tests.peers.email_peer", "--spool", str(spool), "--user", BOT,
                "--password", BOT_PASSWORD,
            )  # fmt: skip
        except BaseException:
            dovecot.cleanup()
            raise
        return cls(dovecot, smtp, spool)

    def stop(self) -> None:
        self.smtp.stop()
        self.dovecot.cleanup()

    def env(self, allowed: list[str] | tuple[str, ...] = (), **extra: str) -> dict[str, str]:
        """EMAIL_* pointing the adapter at this world (plain IMAP and SMTP on loopback)."""
        env = {
            "EMAIL_ADDRESS": BOT,
            "EMAIL_PASSWORD": BOT_PASSWORD,
            "EMAIL_IMAP_HOST": "127.0.0.1",
            "EMAIL_IMAP_PORT": str(self.dovecot.port),
            "EMAIL_IMAP_SSL": "false",
            "EMAIL_SMTP_HOST": "127.0.0.1",
            "EMAIL_SMTP_PORT": str(self.smtp.port),
            "EMAIL_SMTP_STARTTLS": "false",
            "EMAIL_ALLOWED_USERS": ",".join(allowed),
        }
        env.update({f"EMAIL_{k.upper()}": v for k, v in extra.items()})
        return env

    # -- the mailbox -------------------------------------------------------------------
    async def _imap(self) -> aioimaplib.IMAP4:
        client = aioimaplib.IMAP4(host="127.0.0.1", port=self.dovecot.port, timeout=10)
        await client.wait_hello_from_server()
        response = await client.login(BOT, BOT_PASSWORD)
        assert response.result == "OK", response
        return client

    async def deliver(self, raw: bytes) -> None:
        """Put a mail into the bot's INBOX (unseen), as an MTA's delivery would."""
        client = await self._imap()
        try:
            response = await client.append(raw, mailbox="INBOX")
            assert response.result == "OK", response
        finally:
            await client.logout()

    def drop(self, raw: bytes) -> None:
        """Write a mail straight into the bot's maildir, as dovecot's LDA does: works while
        the IMAP server is down."""
        folder = self.dovecot.root / "mail" / BOT
        for sub in ("tmp", "new", "cur"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
            os.chown(folder / sub, self.dovecot.uid, self.dovecot.gid)
        os.chown(folder, self.dovecot.uid, self.dovecot.gid)
        name = f"{time.time_ns()}.M{os.getpid()}.hermes-test"
        temporary = folder / "tmp" / name
        temporary.write_bytes(raw)
        os.chown(temporary, self.dovecot.uid, self.dovecot.gid)
        temporary.rename(folder / "new" / name)

    async def flags(self) -> list[str]:
        """The flags of every mail in the INBOX, in order (e.g. ["\\Seen", ""])."""
        client = await self._imap()
        try:
            await client.select("INBOX")
            response = await client.fetch("1:*", "(FLAGS)")
            found = []
            for line in response.lines:
                text = bytes(line).decode()
                if "FETCH" in text and "FLAGS (" in text:
                    found.append(text.split("FLAGS (", 1)[1].split(")", 1)[0])
            return found
        finally:
            await client.logout()

    async def wait_all_seen(self, count: int, timeout: float = WAIT) -> list[str]:
        deadline = time.monotonic() + timeout
        while True:
            flags = await self.flags()
            if len(flags) >= count and all("\\Seen" in f for f in flags):
                return flags
            if time.monotonic() > deadline:
                raise TimeoutError(f"INBOX flags after {timeout:g} s: {flags}")
            await asyncio.sleep(0.1)

    async def clear(self) -> None:
        """An empty INBOX and spool (between tests)."""
        client = await self._imap()
        try:
            response = await client.select("INBOX")
            if any(b" EXISTS" in bytes(line) and not bytes(line).startswith(b"0 ")
                   for line in response.lines if isinstance(line, bytes)):  # fmt: skip
                await client.store("1:*", "+FLAGS.SILENT", r"(\Deleted)")
                await client.expunge()
        finally:
            await client.logout()
        for path in self.spool.iterdir():
            path.unlink()

    # -- what the bot sent ---------------------------------------------------------------
    def sent(self, to: str = "") -> list[SentMail]:
        found = []
        for meta_path in sorted(self.spool.glob("*.json")):
            meta = json.loads(meta_path.read_text())
            raw = meta_path.with_suffix(".eml").read_bytes()
            sent = SentMail(meta["mail_from"], tuple(meta["rcpt_tos"]), meta["login"], parse(raw))
            if not to or to.lower() in (r.lower() for r in sent.rcpt_tos):
                found.append(sent)
        return found

    async def wait_sent(self, count: int, to: str = "", timeout: float = WAIT) -> list[SentMail]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.sent(to)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                seen = [(m.to, m.subject, m.text[:60]) for m in found]
                raise TimeoutError(f"{len(found)} of {count} mails to {to or 'anyone'}: {seen}")
            await asyncio.sleep(0.05)

    def fail_smtp(self, reply: str | None) -> None:
        """Make the SMTP peer answer DATA with `reply` (e.g. "451 4.3.0 later"); None: accept."""
        path = self.spool / "FAIL"
        if reply is None:
            path.unlink(missing_ok=True)
        else:
            path.write_text(reply)
