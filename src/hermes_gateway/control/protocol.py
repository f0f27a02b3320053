"""The control socket's wire format: one JSON object per line, each tagged with the protocol
version. A request names an op from OPS; events travel by class name and are rebuilt on the
client as the same `core.events` dataclasses.

    → {"v":1,"id":7,"op":"stop_session","args":{"key":"console:dm:local"}}
    ← {"v":1,"id":7,"ok":true,"result":true}
    ← {"v":1,"id":8,"ok":false,"error":"…","kind":"invalid"}
    ← {"v":1,"event":{"name":"ApprovalRequested","at":1767225600.0,"fields":{…}}}

`kind` says whose problem an error is: "protocol" (the line itself was wrong), "invalid" (a
ValueError from the handle: a bad code, an unknown job; a client raises ValueError) or
"failed" (the gateway could not do it)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from hermes_gateway.core import events as events_module
from hermes_gateway.core.events import Event

VERSION = 1
LINE_LIMIT = 1 << 20  # bytes in one request line; a longer line is refused, not buffered
CLIENT_LINE_LIMIT = 64 << 20  # what a client accepts: a busy gateway's snapshot is large

PROTOCOL, INVALID, FAILED = "protocol", "invalid", "failed"


class ProtocolError(ValueError):
    """A request line the server cannot act on. `request_id` is set when the line had one."""

    def __init__(self, message: str, request_id: int | None = None) -> None:
        super().__init__(message)
        self.request_id = request_id


class ControlError(RuntimeError):
    """The gateway refused or failed a request (raised by RemoteHandle)."""


@dataclass(frozen=True)
class Arg:
    name: str
    type: type
    required: bool = True
    default: Any = None


# Argument names are the GatewayHandle method's parameter names: the server calls it with them.
OPS: dict[str, tuple[Arg, ...]] = {
    "snapshot": (),
    "resolve_approval": (Arg("approval_id", str), Arg("choice", str)),
    "transcript": (Arg("session_id", str), Arg("limit", int, required=False, default=200)),
    "kill_process": (Arg("process_id", str),),
    "stop_session": (Arg("key", str),),
    "reset_session": (Arg("key", str),),
    "reconnect_platform": (Arg("name", str),),
    "disable_platform": (Arg("name", str),),
    "approve_pairing": (Arg("platform", str), Arg("code", str)),
    "revoke_pairing": (Arg("platform", str), Arg("user_id", str)),
    "run_cron": (Arg("job_id", str),),
    "pause_cron": (Arg("job_id", str), Arg("paused", bool, required=False, default=True)),
    "send_console": (Arg("text", str),),
    "subscribe": (),
}


@dataclass(frozen=True)
class Request:
    id: int
    op: str
    args: dict[str, Any]


def encode(message: dict[str, Any]) -> bytes:
    """One line on the wire. Non-ASCII stays as UTF-8; newlines inside strings are escaped."""
    text = json.dumps(
        {"v": VERSION, **message}, ensure_ascii=False, separators=(",", ":"), default=str
    )
    return text.encode() + b"\n"


def request_line(request_id: int, op: str, args: dict[str, Any]) -> bytes:
    return encode({"id": request_id, "op": op, "args": args})


def reply_ok(request_id: int, result: Any) -> bytes:
    return encode({"id": request_id, "ok": True, "result": result})


def reply_error(request_id: int | None, error: str, kind: str) -> bytes:
    return encode({"id": request_id, "ok": False, "error": error, "kind": kind})


def event_line(event: Event) -> bytes:
    return encode({"event": {"name": event.name, "at": event.at, "fields": event.fields()}})


def parse_request(line: bytes) -> Request:
    """A checked request, or ProtocolError naming what is wrong with the line."""
    try:
        data = json.loads(line)
    except UnicodeDecodeError:
        raise ProtocolError("the request is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"malformed JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(data, dict):
        raise ProtocolError("a request must be a JSON object")
    raw_id = data.get("id")
    request_id = raw_id if isinstance(raw_id, int) and not isinstance(raw_id, bool) else None
    if data.get("v") != VERSION:
        raise ProtocolError(
            f"unsupported protocol version {data.get('v')!r}: this gateway speaks v{VERSION}",
            request_id,
        )
    if request_id is None:
        raise ProtocolError("a request needs an integer id")
    op = data.get("op")
    if op not in OPS:
        known = ", ".join(OPS)
        raise ProtocolError(f"unknown op {op!r}; the ops are: {known}", request_id)
    args = data.get("args")
    args = {} if args is None else args
    if not isinstance(args, dict):
        raise ProtocolError(f"args of {op} must be a JSON object", request_id)
    return Request(request_id, op, _check_args(op, args, request_id))


def _check_args(op: str, args: dict[str, Any], request_id: int) -> dict[str, Any]:
    spec = OPS[op]
    unknown = set(args) - {a.name for a in spec}
    if unknown:
        raise ProtocolError(f"{op} takes no argument {sorted(unknown)[0]!r}", request_id)
    checked = {}
    for arg in spec:
        if arg.name not in args:
            if arg.required:
                raise ProtocolError(f"{op} needs args.{arg.name}", request_id)
            checked[arg.name] = arg.default
            continue
        value = args[arg.name]
        if not isinstance(value, arg.type) or (arg.type is not bool and isinstance(value, bool)):
            kind = "a string" if arg.type is str else "true or false"
            raise ProtocolError(f"args.{arg.name} of {op} must be {kind}", request_id)
        checked[arg.name] = value
    return checked


@cache
def _event_classes() -> dict[str, type[Event]]:
    return {
        cls.__name__: cls
        for cls in vars(events_module).values()
        if isinstance(cls, type) and issubclass(cls, Event) and cls is not Event
    }


@cache
def _tuple_fields(cls: type[Event]) -> frozenset[str]:
    # Annotations are strings (postponed evaluation); JSON turned these tuples into lists.
    return frozenset(f.name for f in dataclasses.fields(cls) if str(f.type).startswith("tuple"))


def event_from_json(data: dict[str, Any]) -> Event | None:
    """The Event an event message describes; None for one this client does not know (a newer
    gateway), so that an old TUI skips it instead of failing."""
    cls = _event_classes().get(data.get("name", ""))
    if cls is None:
        return None
    known = {f.name for f in dataclasses.fields(cls) if f.init and f.name != "at"}
    fields = data.get("fields") or {}
    values = {k: v for k, v in fields.items() if k in known}
    for name in _tuple_fields(cls) & values.keys():
        if isinstance(values[name], list):
            values[name] = tuple(values[name])
    try:
        return cls(**values, at=float(data.get("at", 0.0)))
    except (TypeError, ValueError):  # a field it needs is missing: not an event we can show
        return None
