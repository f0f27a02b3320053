"""Loopback servers that speak each platform's real wire protocol, run as subprocesses."""
