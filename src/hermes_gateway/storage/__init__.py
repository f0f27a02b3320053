"""Durable state behind one small interface (storage.base.Store); SQLite is the default backend."""

from hermes_gateway.storage.base import Store


def open_store(path) -> Store:
    from hermes_gateway.storage.sqlite import SQLiteStore

    return SQLiteStore(path)


__all__ = ["Store", "open_store"]
