"""Helpers shared by the SQLite store's modules: `_insert` writes a dataclass record as one row."""

from __future__ import annotations

import sqlite3


def _insert(db: sqlite3.Connection, verb: str, table: str, columns: list[str], record) -> None:
    db.execute(
        f"{verb} INTO {table}({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
        [getattr(record, c) for c in columns],
    )
