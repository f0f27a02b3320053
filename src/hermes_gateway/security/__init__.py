"""Authorization (allowlists, approved pairings) and DM pairing. Both fail closed."""

from hermes_gateway.security.auth import AccessPolicy, Authorizer, Decision
from hermes_gateway.security.pairing import (
    ALPHABET,
    PairingError,
    PairingManager,
    PairingRequest,
    PairingStatus,
)

__all__ = [
    "ALPHABET",
    "AccessPolicy",
    "Authorizer",
    "Decision",
    "PairingError",
    "PairingManager",
    "PairingRequest",
    "PairingStatus",
]
