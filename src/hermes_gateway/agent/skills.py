"""Skills: `HERMES_HOME/skills/<name>/SKILL.md`, invoked from chat as `/<name> args`.

A SKILL.md may start with simple front matter between `---` lines (`name:`, `description:`).
Skills may also sit one level down in a category folder (`skills/<category>/<name>/SKILL.md`),
as Hermes lays them out. The library stats the SKILL.md files on each call (cheap) and re-parses
only those whose mtime or size changed, so a new or edited skill shows up without a restart."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from hermes_gateway.agent.tools.base import first_line

SKILL_FILE = "SKILL.md"
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
MAX_BYTES = 256 * 1024  # a skill is instructions, not a data dump


def normalize(name: str) -> str:
    """Lookup key: case-insensitive, `-` and `_` equal (chat menus often forbid `-`)."""
    return name.strip().lstrip("/").lower().replace("-", "_")


@dataclass(frozen=True)
class Skill:
    name: str
    description: str
    path: Path  # the SKILL.md
    body: str = field(default="", repr=False, compare=False)  # the text after the front matter

    @property
    def command(self) -> str:
        """The name as a chat command (`-` is not allowed in Telegram's menu)."""
        return normalize(self.name)


class SkillError(ValueError):
    """Why one SKILL.md cannot be used (user-facing)."""


def parse_front_matter(text: str) -> tuple[dict[str, str], str]:
    """(`key: value` pairs, body). Quoted values are unquoted; indented lines continue a value
    (`|` keeps line breaks, anything else folds them into spaces)."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return {}, text
    end = next((i for i, ln in enumerate(lines[1:], 1) if ln.strip() in ("---", "...")), None)
    if end is None:
        raise SkillError("front matter starts with --- but has no closing --- line")
    meta: dict[str, str] = {}
    key, style, block = "", "", []  # the value being continued over indented lines

    def finish() -> None:
        if key and block:
            meta[key] = ("\n" if style.startswith("|") else " ").join(block).strip()

    for line in lines[1:end]:
        if line[:1] in (" ", "\t") and key:
            block.append(line.strip())
            continue
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or ":" not in stripped:
            continue
        finish()
        key, _, value = stripped.partition(":")
        key, value = key.strip(), value.strip()
        style, block = (value, []) if value in ("|", "|-", ">", ">-") else ("", [])
        if not style:
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            meta[key] = value
            block = [value] if value else []
    finish()
    return meta, "\n".join(lines[end + 1 :]).lstrip("\n")


def parse_skill(path: Path, folder_name: str) -> Skill:
    data = path.read_bytes()[: MAX_BYTES + 1]
    if len(data) > MAX_BYTES:
        raise SkillError(f"larger than {MAX_BYTES // 1024} KiB; shorten it")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SkillError(f"not valid UTF-8 (byte {exc.start}); save it as UTF-8") from None
    meta, body = parse_front_matter(text.replace("\r\n", "\n"))
    name = meta.get("name", "").strip() or folder_name
    if not SAFE_NAME.fullmatch(name):
        if SAFE_NAME.fullmatch(folder_name):
            name = folder_name  # a display name with spaces; the folder gives the command
        else:
            raise SkillError("the name may only use letters, digits, - and _ (64 at most)")
    description = meta.get("description", "").strip()
    if not description:
        first = next((ln for ln in body.splitlines() if ln.strip()), "")
        description = first_line(first.strip().lstrip("#").strip(), 120) or "(no description)"
    return Skill(name=name, description=description, path=path, body=body.strip())


class SkillLibrary:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._signature: tuple[tuple[str, int, int], ...] | None = None
        self._parsed: dict[tuple[str, int, int], Skill | str] = {}  # stat key → skill or problem
        self._skills: dict[str, Skill] = {}  # normalize(name) → skill
        self._problems: list[str] = []

    def list(self) -> list[Skill]:
        self._refresh()
        return sorted(self._skills.values(), key=lambda s: s.name.lower())

    def get(self, name: str) -> Skill | None:
        # Only names that are plain words are looked up at all; the index holds only folders
        # found under root, so "../x" or "a/b" can never reach a file elsewhere.
        key = name.strip().lstrip("/")
        if not SAFE_NAME.fullmatch(key):
            return None
        self._refresh()
        return self._skills.get(normalize(key))

    def problems(self) -> list[str]:
        """One line per SKILL.md that was skipped, saying why."""
        self._refresh()
        return list(self._problems)

    def instruction(self, skill: Skill, args: str) -> str:
        """The text the model gets for the one turn that invoked the skill."""
        body = skill.body or parse_skill(skill.path, skill.path.parent.name).body
        args = args.strip()
        invoked = f"with: {args}" if args else "with no arguments"
        return (
            f'[Skill "{skill.name}" — its files are in {skill.path.parent}]\n\n'
            f"{body}\n\n"
            f"The user invoked /{skill.name} {invoked}"
        )

    # --- scanning ----------------------------------------------------------------------------

    def _refresh(self) -> None:
        found = self._find()
        signature = tuple(sorted(found))
        if signature == self._signature:
            return
        parsed: dict[tuple[str, int, int], Skill | str] = {}
        skills: dict[str, Skill] = {}
        problems: list[str] = []
        for key in signature:
            path = Path(key[0])
            entry = self._parsed.get(key)
            if entry is None:
                try:
                    entry = parse_skill(path, path.parent.name)
                except (SkillError, OSError) as exc:
                    entry = (
                        f"{self._rel(path)}: {exc if isinstance(exc, SkillError) else 'unreadable'}"
                    )
            parsed[key] = entry
            if isinstance(entry, str):
                problems.append(entry)
            elif normalize(entry.name) in skills:
                other = skills[normalize(entry.name)]
                problems.append(
                    f"{self._rel(path)}: same name as {self._rel(other.path)}; rename one"
                )
            else:
                skills[normalize(entry.name)] = entry
        self._signature, self._parsed, self._skills, self._problems = (
            signature,
            parsed,
            skills,
            problems,
        )

    def _find(self) -> list[tuple[str, int, int]]:
        """(path, mtime_ns, size) of every SKILL.md at depth 1 or 2 (category folders)."""
        found: list[tuple[str, int, int]] = []
        for folder in _subdirs(self.root):
            stat = _stat(folder / SKILL_FILE)
            if stat is not None:
                found.append((str(folder / SKILL_FILE), *stat))
                continue
            for inner in _subdirs(folder):
                stat = _stat(inner / SKILL_FILE)
                if stat is not None:
                    found.append((str(inner / SKILL_FILE), *stat))
        return found

    def _rel(self, path: Path) -> str:
        try:
            return f"skills/{path.relative_to(self.root)}"
        except ValueError:
            return str(path)


def _subdirs(folder: Path) -> list[Path]:
    try:
        with os.scandir(folder) as entries:
            return [
                Path(e.path)
                for e in entries
                if not e.name.startswith(".") and e.is_dir(follow_symlinks=True)
            ]
    except OSError:  # missing root, or a folder we may not read
        return []


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)
