"""The approval manager: dangerous commands wait for a person, harmless ones never do, and
every decision is audited and published."""

import asyncio

import pytest

from hermes_gateway.agent.approvals import (
    ApprovalDenied,
    ApprovalManager,
    PendingApproval,
    approval_buttons,
    approval_message,
)
from hermes_gateway.agent.tools.base import ToolError
from hermes_gateway.config import load_settings
from hermes_gateway.core.bus import EventBus
from hermes_gateway.core.events import ApprovalRequested, ApprovalResolved
from hermes_gateway.home import HermesHome
from hermes_gateway.storage.sqlite import SQLiteStore

KEY = "telegram:dm:42"
OTHER = "discord:dm:7"


class Clock:
    """Moves one second per reading, so audit rows (ordered by time) keep their order."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        self.now += 1
        return self.now


class Harness:
    def __init__(self, tmp_path, **options):
        self.home = HermesHome(tmp_path / "home").ensure()
        self.store = SQLiteStore(self.home.state_db)
        self.bus = EventBus()
        self.events = self.bus.subscribe()
        self.clock = Clock()
        self.asked: asyncio.Queue[PendingApproval] = asyncio.Queue()
        options.setdefault("hermes_home", self.home.root)
        self.manager = ApprovalManager(
            store=self.store, bus=self.bus, clock=self.clock, notify=self.asked.put, **options
        )

    def start(self, command: str, key: str = KEY, **kwargs) -> asyncio.Task:
        return asyncio.create_task(
            self.manager.check(
                command, session_key=key, platform="telegram", chat_id="42", **kwargs
            )
        )

    async def asked_for(self) -> PendingApproval:
        return await asyncio.wait_for(self.asked.get(), 2)

    def audit(self) -> list[dict]:
        return list(reversed(self.store.approvals_recent()))  # oldest first

    def published(self) -> list:
        out = []
        while (event := self.events.get_nowait()) is not None:
            out.append(event)
        return out


@pytest.fixture
def h(tmp_path):
    harness = Harness(tmp_path)
    yield harness
    harness.store.close()


async def test_harmless_commands_run_at_once_without_audit(h):
    verdict = await h.manager.check("ls -la /etc", session_key=KEY)
    assert verdict.level == "ok"
    assert h.audit() == [] and h.published() == []


async def test_approve_once_runs_the_command_and_records_who_decided(h):
    task = h.start("rm -r build")
    p = await h.asked_for()
    assert (p.session_key, p.command, p.reason, p.platform, p.chat_id) == (
        KEY, "rm -r build", "recursive delete", "telegram", "42",
    )  # fmt: skip
    assert p.id.startswith("ap_") and len(p.id) == 9
    assert p.expires_at == p.created_at + 300
    assert h.manager.has_pending(KEY)
    h.clock.now += 60
    assert h.manager.resolve(KEY, "once", by="user42") is p
    verdict = await asyncio.wait_for(task, 2)
    assert (verdict.level, verdict.rule) == ("approval", "recursive-delete")
    assert not h.manager.has_pending(KEY)
    [row] = h.audit()
    assert (row["id"], row["status"], row["decided_by"]) == (p.id, "once", "user42")
    assert (row["created_at"], row["decided_at"]) == (p.created_at, p.created_at + 61)
    requested, resolved = h.published()
    assert isinstance(requested, ApprovalRequested) and requested.approval_id == p.id
    assert requested.command == "rm -r build" and requested.expires_at == p.expires_at
    assert isinstance(resolved, ApprovalResolved)
    assert (resolved.approval_id, resolved.decision, resolved.by) == (p.id, "once", "user42")


async def test_once_is_not_remembered(h):
    task = h.start("rm -r build")
    await h.asked_for()
    h.manager.resolve(KEY, "once", by="u")
    await task
    again = h.start("rm -r build")
    await h.asked_for()
    assert h.manager.has_pending(KEY)
    h.manager.resolve(KEY, "deny", by="u")
    with pytest.raises(ApprovalDenied):
        await again


async def test_deny_raises_a_tool_error_the_model_can_read(h):
    task = h.start("rm -r build")
    await h.asked_for()
    h.manager.resolve(KEY, "deny", by="u", reason="I still need that folder")
    with pytest.raises(ApprovalDenied) as caught:
        await task
    assert isinstance(caught.value, ToolError)
    assert str(caught.value).startswith("The user denied this command: I still need that folder")
    assert caught.value.decision == "deny"
    assert h.audit()[-1]["status"] == "deny"


async def test_approve_session_allows_the_same_kind_in_that_session_only(h):
    task = h.start("rm -r build")
    await h.asked_for()
    h.manager.resolve(KEY, "session", by="u")
    await task
    verdict = await h.manager.check("rm -rf dist", session_key=KEY)  # no question this time
    assert verdict.rule == "recursive-delete"
    assert h.audit()[-1]["status"] == "auto" and h.audit()[-1]["decided_by"] == "session"
    other = h.start("rm -r build", key=OTHER)  # another chat still has to ask
    await h.asked_for()
    assert h.manager.has_pending(OTHER)
    h.manager.resolve(OTHER, "deny", by="u")
    with pytest.raises(ApprovalDenied):
        await other
    h.manager.clear_session(KEY)  # /new: grants are gone
    fresh = h.start("rm -rf dist")
    await h.asked_for()
    h.manager.resolve(KEY, "once", by="u")
    await fresh


async def test_session_grant_does_not_cover_a_different_kind(h):
    task = h.start("rm -r build")
    await h.asked_for()
    h.manager.resolve(KEY, "session", by="u")
    await task
    other_kind = h.start("chmod 777 shared")
    p = await h.asked_for()
    assert p.rules == ("world-writable",)
    h.manager.resolve(KEY, "deny", by="u")
    with pytest.raises(ApprovalDenied):
        await other_kind


async def test_approve_always_persists_and_keeps_the_rest_of_config_yaml(h):
    config = h.home.config_yaml
    config.write_text(
        "# my settings\nmodel:\n  default: some/model  # keep me\n"
        "unknown_key: 7\ncommand_allowlist:\n  - make clean\n"
    )
    task = h.start("rm -r  Build")
    await h.asked_for()
    h.manager.resolve(KEY, "always", by="u")
    await task
    text = config.read_text()
    assert "# my settings" in text and "# keep me" in text and "unknown_key: 7" in text
    settings = load_settings(h.home, environ={})
    assert settings.command_allowlist == ("make clean", "rm -r build")
    assert "rm -r build" in h.manager.allowlist
    # The same command (any case or spacing) now runs at once; a different one still asks.
    assert (await h.manager.check("RM -r build", session_key=OTHER)).rule == "recursive-delete"
    assert h.audit()[-1]["decided_by"] == "allowlist"
    different = h.start("rm -r src")
    await h.asked_for()
    h.manager.deny_all(KEY, by="stop", reason="stopped")
    with pytest.raises(ApprovalDenied):
        await different


async def test_allowlist_entries_may_name_a_rule(tmp_path):
    h = Harness(tmp_path, allowlist=["recursive-delete"])
    try:
        verdict = await h.manager.check("rm -rf whatever", session_key=KEY)
        assert verdict.rule == "recursive-delete"
        assert [r["status"] for r in h.audit()] == ["auto"]
        [event] = h.published()
        assert (event.decision, event.by) == ("auto", "allowlist")
    finally:
        h.store.close()


async def test_timeout_denies_and_says_so(tmp_path):
    h = Harness(tmp_path, timeout=0.2)
    try:
        task = h.start("rm -r build")
        p = await h.asked_for()
        with pytest.raises(ApprovalDenied) as caught:
            await asyncio.wait_for(task, 5)
        assert str(caught.value).startswith("No answer within 0.2 s, so the command was not run")
        assert caught.value.decision == "timeout"
        assert not h.manager.has_pending(KEY)
        assert h.manager.resolve(KEY, "once", by="late") is None
        assert (h.audit()[-1]["status"], h.audit()[-1]["decided_by"]) == ("timeout", "timeout")
        resolved = h.published()[-1]
        assert (resolved.approval_id, resolved.decision, resolved.by) == (
            p.id,
            "timeout",
            "timeout",
        )
    finally:
        h.store.close()


async def test_several_pending_approvals_queue_oldest_first(h):
    first = h.start("rm -r a")
    p1 = await h.asked_for()
    second = h.start("chmod 777 b")
    p2 = await h.asked_for()
    third = h.start("rm -r c", key=OTHER)
    p3 = await h.asked_for()
    assert h.manager.pending(KEY) == [p1, p2]
    assert h.manager.pending() == [p1, p2, p3]
    assert h.manager.resolve(KEY, "deny", by="u") is p1  # the oldest of that session
    with pytest.raises(ApprovalDenied):
        await first
    assert h.manager.pending(KEY) == [p2]
    h.manager.resolve(KEY, "once", by="u")
    assert (await second).rule == "world-writable"
    h.manager.resolve(OTHER, "once", by="u")
    await third


async def test_resolve_by_id_answers_that_one_and_checks_the_session(h):
    first = h.start("rm -r a")
    p1 = await h.asked_for()
    second = h.start("rm -r b")
    p2 = await h.asked_for()
    assert h.manager.resolve(OTHER, "once", by="u", approval_id=p2.id) is None  # wrong chat
    assert h.manager.resolve(None, "once", by="operator", approval_id=p2.id) is p2
    await second
    assert h.manager.pending(KEY) == [p1]
    assert h.manager.resolve(None, "once", by="operator", approval_id="ap_nope00") is None
    assert h.manager.resolve(OTHER, "once", by="u") is None  # nothing pending there
    h.manager.resolve(KEY, "once", by="u")
    await first
    assert {r["id"]: r["decided_by"] for r in h.audit()}[p2.id] == "operator"


async def test_approve_session_also_releases_the_same_kind_already_waiting(h):
    first = h.start("rm -r a")
    await h.asked_for()
    second = h.start("rm -r b")
    await h.asked_for()
    h.manager.resolve(KEY, "session", by="u")
    await asyncio.wait_for(asyncio.gather(first, second), 2)
    assert [r["status"] for r in h.audit()] == ["session", "session"]


async def test_deny_all_answers_every_pending_approval_of_the_session(h):
    tasks = [h.start("rm -r a"), h.start("rm -r b")]
    for _ in tasks:
        await h.asked_for()
    elsewhere = h.start("rm -r c", key=OTHER)
    await h.asked_for()
    assert h.manager.deny_all(KEY, by="stop", reason="the user sent /stop") == 2
    for task in tasks:
        with pytest.raises(ApprovalDenied, match="the user sent /stop"):
            await task
    assert h.manager.pending() != [] and h.manager.has_pending(OTHER)
    assert [(r["status"], r["decided_by"]) for r in h.audit()[:2]] == [("deny", "stop")] * 2
    assert h.manager.deny_all(KEY, by="stop", reason="again") == 0
    h.manager.resolve(OTHER, "once", by="u")
    await elsewhere


async def test_unattended_runs_are_denied_without_waiting(h):
    with pytest.raises(ApprovalDenied, match="unattended") as caught:
        await h.manager.check("rm -r build", session_key="cron:job1", unattended=True)
    assert caught.value.decision == "unattended"
    assert h.asked.empty() and not h.manager.pending()
    [row] = h.audit()
    assert (row["status"], row["decided_by"]) == ("deny", "unattended")


async def test_unattended_allow_policy_lets_approval_level_commands_run(tmp_path):
    h = Harness(tmp_path, unattended="allow")
    try:
        verdict = await h.manager.check("rm -r build", session_key="cron:j", unattended=True)
        assert verdict.level == "approval"
        assert [(r["status"], r["decided_by"]) for r in h.audit()] == [("auto", "unattended")]
    finally:
        h.store.close()


async def test_mode_off_allows_approval_level_but_still_blocks_hardline(tmp_path):
    h = Harness(tmp_path, mode="off")
    try:
        assert (await h.manager.check("rm -r build", session_key=KEY)).level == "approval"
        with pytest.raises(ApprovalDenied) as caught:
            await h.manager.check("sudo rm -rf /", session_key=KEY)
        assert str(caught.value).startswith("Blocked: recursive delete of / ")
        assert "is never allowed" in str(caught.value)
        assert caught.value.decision == "blocked"
        assert [(r["status"], r["decided_by"]) for r in h.audit()] == [
            ("auto", "mode-off"),
            ("blocked", "policy"),
        ]
        assert h.asked.empty()
    finally:
        h.store.close()


async def test_hardline_cannot_be_allowlisted(tmp_path):
    h = Harness(tmp_path, allowlist=["rm -rf /", "delete-system"])
    try:
        with pytest.raises(ApprovalDenied, match="never allowed"):
            await h.manager.check("rm -rf /", session_key=KEY)
    finally:
        h.store.close()


async def test_cancelled_wait_removes_the_pending_approval(h):
    task = h.start("rm -r build")
    p = await h.asked_for()
    h.published()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert h.manager.pending() == []
    assert h.manager.resolve(KEY, "once", by="u") is None
    assert (h.audit()[-1]["status"], h.audit()[-1]["decided_by"]) == ("cancelled", "interrupt")
    [resolved] = h.published()
    assert (resolved.approval_id, resolved.decision) == (p.id, "cancelled")


async def test_a_failing_notify_still_leaves_the_approval_answerable(tmp_path):
    h = Harness(tmp_path)

    async def broken(p):
        raise ConnectionError("chat unreachable")

    h.manager.notify = broken
    try:
        task = h.start("rm -r build")
        for _ in range(100):
            if h.manager.pending():
                break
            await asyncio.sleep(0.01)
        assert h.manager.resolve(None, "once", by="operator", approval_id=h.manager.pending()[0].id)
        assert (await asyncio.wait_for(task, 2)).rule == "recursive-delete"
    finally:
        h.store.close()


def test_unknown_choice_is_refused(h):
    with pytest.raises(ValueError, match="once, session, always, deny"):
        h.manager.resolve(KEY, "maybe", by="u")


def test_message_shows_the_full_command_reason_and_how_to_answer():
    p = PendingApproval(
        "ap_abc123", KEY, "rm -r build ```x```\u202e", "recursive delete", 0.0, 300.0
    )
    text = approval_message(p)
    assert "recursive delete" in text and "ap_abc123" in text
    assert "````\nrm -r build ```x```⟨U+202E⟩\n````" in text  # fence longer than any inside
    for answer in (
        "/approve — run it once",
        "/approve session — allow this kind of command for this session",
        "/approve always — always allow it",
        "/deny [reason]",
    ):
        assert answer in text
    assert "5 min" in text
    assert approval_buttons(p) == (
        ("Allow once", "approval:ap_abc123:once"),
        ("Allow session", "approval:ap_abc123:session"),
        ("Always", "approval:ap_abc123:always"),
        ("Deny", "approval:ap_abc123:deny"),
    )
