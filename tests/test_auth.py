"""Authorization: the fixed rule order, fail-closed defaults, id normalization."""

from __future__ import annotations

import pytest

from hermes_gateway.core.types import Platform
from hermes_gateway.security.auth import AccessPolicy, Authorizer, Decision
from hermes_gateway.storage.records import PairingRecord
from hermes_gateway.storage.sqlite import SQLiteStore


@pytest.fixture
def store(tmp_path):
    s = SQLiteStore(tmp_path / "state.db")
    yield s
    s.close()


def approve_pairing(store, platform: str, user_id: str) -> None:
    store.pairing_put(
        PairingRecord(
            platform=platform,
            user_id=user_id,
            user_name="",
            state="approved",
            code_hash="",
            salt="",
            requested_at=1.0,
            expires_at=0.0,
            approved_at=2.0,
        )
    )


def add_pending_pairing(store, platform: str, user_id: str) -> None:
    store.pairing_put(
        PairingRecord(
            platform=platform,
            user_id=user_id,
            user_name="",
            state="pending",
            code_hash="scrypt$12$8$1$00",
            salt="00",
            requested_at=1.0,
            expires_at=9e12,
        )
    )


# -- fail closed ----------------------------------------------------------------------------
def test_nothing_configured_denies_everyone(store):
    auth = Authorizer(AccessPolicy(), store)
    assert auth.check("telegram", "123") == Decision(False, "denied")
    assert auth.check("discord", "456") == Decision(False, "denied")


def test_empty_policy_is_empty_and_startup_warns_how_to_let_someone_in(store):
    policy = AccessPolicy()
    assert policy.is_empty()
    warning = Authorizer(policy, store).startup_warning()
    assert warning is not None
    assert "nobody can talk to the agent" in warning
    assert "TELEGRAM_ALLOWED_USERS" in warning
    assert "GATEWAY_ALLOWED_USERS" in warning
    assert "hermes pairing approve <platform> <CODE>" in warning


@pytest.mark.parametrize(
    "policy",
    [
        AccessPolicy(platform_allow_all={"telegram": True}),
        AccessPolicy(platform_allowed={"telegram": frozenset({"1"})}),
        AccessPolicy(gateway_allowed=frozenset({"1"})),
        AccessPolicy(gateway_allow_all=True),
    ],
    ids=["platform-allow-all", "platform-allowlist", "gateway-allowlist", "gateway-allow-all"],
)
def test_any_configured_rule_makes_policy_non_empty_and_silences_warning(store, policy):
    assert not policy.is_empty()
    assert Authorizer(policy, store).startup_warning() is None


def test_settings_that_grant_nothing_still_count_as_empty(store):
    policy = AccessPolicy(
        platform_allow_all={"telegram": False}, platform_allowed={"discord": frozenset({" ", ""})}
    )
    assert policy.is_empty()
    assert Authorizer(policy, store).startup_warning() is not None


def test_empty_policy_with_an_approved_pairing_does_not_warn(store):
    approve_pairing(store, "telegram", "123")
    assert Authorizer(AccessPolicy(), store).startup_warning() is None


def test_empty_user_id_is_denied_even_when_everyone_is_allowed(store):
    policy = AccessPolicy(platform_allow_all={"telegram": True}, gateway_allow_all=True)
    auth = Authorizer(policy, store)
    assert auth.check("telegram", "") == Decision(False, "denied")
    assert auth.check("telegram", "   ") == Decision(False, "denied")


def test_non_boolean_allow_all_values_do_not_open_access(store):
    policy = AccessPolicy(platform_allow_all={"telegram": "false"}, gateway_allow_all="false")
    assert policy.is_empty()
    assert Authorizer(policy, store).check("telegram", "1").via == "denied"


# -- the local console --------------------------------------------------------------------
def test_console_follows_the_same_rules_and_does_not_count_as_configured(store):
    assert not Authorizer(AccessPolicy(), store).check("console", "operator").allowed
    policy = AccessPolicy(platform_allow_all={"console": True})
    assert policy.is_empty()  # the local terminal lets nobody remote in
    assert Authorizer(policy, store).check("console", "operator") == Decision(
        True, "platform-allow-all"
    )


# -- each rule on its own -----------------------------------------------------------------
def test_platform_allow_all_admits_anyone_on_that_platform_only(store):
    auth = Authorizer(AccessPolicy(platform_allow_all={"telegram": True}), store)
    assert auth.check("telegram", "anyone") == Decision(True, "platform-allow-all")
    assert auth.check("discord", "anyone") == Decision(False, "denied")


def test_approved_pairing_admits_that_user_on_that_platform_only(store):
    approve_pairing(store, "telegram", "123")
    auth = Authorizer(AccessPolicy(), store)
    assert auth.check("telegram", "123") == Decision(True, "pairing")
    assert auth.check("discord", "123") == Decision(False, "denied")
    assert auth.check("telegram", "456") == Decision(False, "denied")


def test_pending_pairing_does_not_admit(store):
    add_pending_pairing(store, "telegram", "123")
    assert Authorizer(AccessPolicy(), store).check("telegram", "123").via == "denied"


def test_revoked_pairing_stops_admitting_on_the_next_check(store):
    approve_pairing(store, "telegram", "123")
    auth = Authorizer(AccessPolicy(), store)
    assert auth.check("telegram", "123").allowed
    store.pairing_delete("telegram", "123")
    assert auth.check("telegram", "123") == Decision(False, "denied")


def test_pairing_approved_through_another_connection_takes_effect_immediately(store, tmp_path):
    auth = Authorizer(AccessPolicy(), store)
    assert not auth.check("telegram", "123").allowed
    cli = SQLiteStore(tmp_path / "state.db")  # what `hermes pairing approve` opens
    try:
        approve_pairing(cli, "telegram", "123")
    finally:
        cli.close()
    assert auth.check("telegram", "123") == Decision(True, "pairing")


def test_platform_allowlist_admits_listed_users_on_that_platform_only(store):
    auth = Authorizer(AccessPolicy(platform_allowed={"telegram": frozenset({"123"})}), store)
    assert auth.check("telegram", "123") == Decision(True, "platform-allowlist")
    assert auth.check("telegram", "1234") == Decision(False, "denied")
    assert auth.check("discord", "123") == Decision(False, "denied")


def test_gateway_allowlist_admits_listed_users_on_every_platform(store):
    auth = Authorizer(AccessPolicy(gateway_allowed=frozenset({"123"})), store)
    assert auth.check("telegram", "123") == Decision(True, "gateway-allowlist")
    assert auth.check("discord", "123") == Decision(True, "gateway-allowlist")
    assert auth.check("discord", "456") == Decision(False, "denied")


def test_gateway_allow_all_admits_anyone_anywhere(store):
    auth = Authorizer(AccessPolicy(gateway_allow_all=True), store)
    assert auth.check("telegram", "x") == Decision(True, "gateway-allow-all")
    assert auth.check("signal", "+15551234567") == Decision(True, "gateway-allow-all")


# -- order ------------------------------------------------------------------------------------
def test_rules_apply_in_order_and_the_earliest_match_names_the_decision(store):
    """One user matched by every rule; removing rules one at a time reveals the fixed order."""
    approve_pairing(store, "telegram", "u1")
    full = dict(
        platform_allow_all={"telegram": True},
        platform_allowed={"telegram": frozenset({"u1"})},
        gateway_allowed=frozenset({"u1"}),
        gateway_allow_all=True,
    )

    def via(**overrides):
        return Authorizer(AccessPolicy(**{**full, **overrides}), store).check("telegram", "u1").via

    assert via() == "platform-allow-all"
    assert via(platform_allow_all={}) == "pairing"
    store.pairing_delete("telegram", "u1")
    assert via(platform_allow_all={}) == "platform-allowlist"
    assert via(platform_allow_all={}, platform_allowed={}) == "gateway-allowlist"
    assert (
        via(platform_allow_all={}, platform_allowed={}, gateway_allowed=frozenset())
        == "gateway-allow-all"
    )
    assert (
        via(
            platform_allow_all={},
            platform_allowed={},
            gateway_allowed=frozenset(),
            gateway_allow_all=False,
        )
        == "denied"
    )


# -- id comparison --------------------------------------------------------------------------
def test_allowlist_entries_are_stripped_and_otherwise_compared_exactly(store):
    auth = Authorizer(AccessPolicy(platform_allowed={"slack": frozenset({" U0ABC "})}), store)
    assert auth.check("slack", "U0ABC").allowed
    assert auth.check("slack", " U0ABC\n").allowed
    assert not auth.check("slack", "u0abc").allowed
    assert not auth.check("slack", "U0AB").allowed


def test_email_like_ids_compare_case_insensitively(store):
    policy = AccessPolicy(platform_allowed={"email": frozenset({"Trusted@Example.com"})})
    auth = Authorizer(policy, store)
    assert auth.check("email", "trusted@example.COM") == Decision(True, "platform-allowlist")
    assert not auth.check("email", "other@example.com").allowed


def test_matrix_ids_are_not_email_like_and_stay_case_sensitive(store):
    policy = AccessPolicy(platform_allowed={"matrix": frozenset({"@alice:matrix.org"})})
    auth = Authorizer(policy, store)
    assert auth.check("matrix", "@alice:matrix.org").allowed
    assert not auth.check("matrix", "@Alice:matrix.org").allowed


def test_platform_enum_and_platform_name_are_the_same_platform(store):
    policy = AccessPolicy(platform_allowed={Platform.WECOM_CALLBACK: frozenset({"u"})})
    auth = Authorizer(policy, store)
    assert auth.check("wecom_callback", "u").allowed
    assert auth.check(Platform.WECOM_CALLBACK, "u").allowed
    assert not auth.check(Platform.WECOM, "u").allowed


def test_a_platform_that_admits_by_its_own_rule_silences_the_warning(store):
    auth = Authorizer(AccessPolicy(), store)
    auth.vouchers["discord"] = lambda uid: uid == "42"  # e.g. DISCORD_ALLOWED_ROLES
    assert auth.startup_warning() is None
    assert auth.check("discord", "42") == Decision(True, "platform-vouched")
    assert auth.check("discord", "43") == Decision(False, "denied")
