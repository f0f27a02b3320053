"""Hermes Gateway: talk to your AI agent from every chat app."""

__version__ = "0.1.0"
