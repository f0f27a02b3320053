"""Builds the authorizer from the loaded settings (the one place that maps config to policy)."""

from __future__ import annotations

from hermes_gateway.security.auth import AccessPolicy, Authorizer
from hermes_gateway.storage.base import Store


def access_policy(settings) -> AccessPolicy:
    platforms = settings.platforms
    return AccessPolicy(
        platform_allow_all={name: p.allow_all_users for name, p in platforms.items()},
        platform_allowed={name: frozenset(p.allowed_users) for name, p in platforms.items()},
        gateway_allowed=frozenset(settings.allowed_users),
        gateway_allow_all=settings.allow_all_users,
    )


def build_authorizer(settings, store: Store) -> Authorizer:
    return Authorizer(access_policy(settings), store)
