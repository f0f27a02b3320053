"""What the Matrix adapter keeps across restarts, in HERMES_HOME/matrix/<account>.json:

- next_batch: the /sync token after the last batch whose messages are all in the inbox, so a
  restart neither replays nor loses messages (written only after deliver_inbound returned);
- device_id: the device a password login created, reused so that each restart does not add
  a device to the bot's account. No access token is stored: a password login makes a new one.

One file per (homeserver, user), so pointing the gateway at another account starts afresh."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from hermes_gateway.config.atomic import write_atomic

log = logging.getLogger("hermes.matrix")


@dataclass
class SyncState:
    next_batch: str = ""
    device_id: str = ""


class StateFile:
    def __init__(self, folder: Path, homeserver: str, user_id: str) -> None:
        digest = hashlib.sha256(f"{homeserver}\n{user_id}".encode()).hexdigest()[:16]
        self.path = folder / f"{digest}.json"
        self._saved = SyncState()

    def load(self) -> SyncState:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            state = SyncState(str(raw.get("next_batch") or ""), str(raw.get("device_id") or ""))
        except FileNotFoundError:
            state = SyncState()
        except (OSError, ValueError, AttributeError) as exc:  # a damaged file: start afresh
            log.warning("matrix: ignoring unreadable %s: %s", self.path, exc)
            state = SyncState()
        self._saved = SyncState(**asdict(state))
        return state

    async def save(self, state: SyncState) -> None:
        """Durable before it returns (the write runs off the event loop); no-op if unchanged."""
        if state == self._saved:
            return
        text = json.dumps(asdict(state))
        await asyncio.to_thread(write_atomic, self.path, text, 0o600)
        self._saved = SyncState(**asdict(state))
