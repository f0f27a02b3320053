"""SkillLibrary over real SKILL.md files under tmp_path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hermes_gateway.agent.skills import Skill, SkillLibrary, parse_front_matter


def write_skill(root: Path, folder: str, text: str | bytes) -> Path:
    path = root / folder / "SKILL.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def root(tmp_path: Path) -> Path:
    skills = tmp_path / "home" / "skills"
    skills.mkdir(parents=True)
    return skills


def test_lists_skills_with_front_matter_name_and_description(root: Path) -> None:
    write_skill(
        root,
        "weekly-report",
        '---\nname: weekly-report\ndescription: "Write the weekly report"\n---\n# Steps\n1. x\n',
    )
    write_skill(root, "arxiv", "---\ndescription: Search arXiv papers\n---\nUse the API.\n")
    skills = SkillLibrary(root).list()
    assert [(s.name, s.description) for s in skills] == [
        ("arxiv", "Search arXiv papers"),
        ("weekly-report", "Write the weekly report"),
    ]
    assert skills[1].path == root / "weekly-report" / "SKILL.md"


def test_missing_description_falls_back_to_the_first_line_of_the_body(root: Path) -> None:
    write_skill(root, "plain", "\n# Deploy the site to production\n\nRun make deploy.\n")
    write_skill(root, "fm", "---\nname: fm\n---\n\nSummarise a PDF.\nMore.\n")
    library = SkillLibrary(root)
    assert library.get("plain").description == "Deploy the site to production"
    assert library.get("fm").description == "Summarise a PDF."


def test_lookup_ignores_case_and_treats_dash_and_underscore_alike(root: Path) -> None:
    write_skill(root, "weekly-report", "Write it.")
    library = SkillLibrary(root)
    for name in ("weekly-report", "weekly_report", "Weekly_Report", "/WEEKLY-REPORT"):
        skill = library.get(name)
        assert skill is not None and skill.name == "weekly-report", name
    assert library.get("weekly") is None
    assert library.get("weekly-report").command == "weekly_report"


def test_names_that_could_leave_the_root_are_refused(tmp_path: Path, root: Path) -> None:
    write_skill(tmp_path / "home", "secret", "outside the skills folder")  # home/secret/SKILL.md
    write_skill(root, "ok", "inside")
    library = SkillLibrary(root)
    for name in ("../secret", "..", "../secret/", "ok/../../secret", "/etc/passwd", "", "a b"):
        assert library.get(name) is None, name
    assert [s.name for s in library.list()] == ["ok"]


def test_a_skill_added_at_runtime_is_found_without_a_restart(root: Path) -> None:
    library = SkillLibrary(root)
    assert library.list() == []
    write_skill(root, "new-one", "---\ndescription: fresh\n---\nbody")
    assert library.get("new_one").description == "fresh"


def test_an_edited_skill_is_reparsed_and_an_unchanged_one_is_not(root: Path) -> None:
    path = write_skill(root, "edit", "---\ndescription: old\n---\nbody")
    library = SkillLibrary(root)
    first = library.get("edit")
    assert library.get("edit") is first  # nothing changed: the same parsed object
    path.write_text("---\ndescription: new and longer\n---\nbody", encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert library.get("edit").description == "new and longer"


def test_invalid_utf8_is_skipped_with_a_reason(root: Path) -> None:
    write_skill(root, "broken", b"---\ndescription: caf\xe9\n---\n")
    write_skill(root, "good", "fine")
    library = SkillLibrary(root)
    assert [s.name for s in library.list()] == ["good"]
    [problem] = library.problems()
    assert problem.startswith("skills/broken/SKILL.md: not valid UTF-8")
    assert "save it as UTF-8" in problem


def test_unclosed_front_matter_and_unsafe_names_are_problems_not_crashes(root: Path) -> None:
    write_skill(root, "open", "---\nname: open\ndescription: never closed\n")
    write_skill(root, "bad.name", "---\nname: also bad!\n---\nx")
    write_skill(root, "Good", "y")
    library = SkillLibrary(root)
    assert [s.name for s in library.list()] == ["Good"]
    problems = "\n".join(library.problems())
    assert "skills/open/SKILL.md: front matter starts with --- but has no closing" in problems
    assert "skills/bad.name/SKILL.md: the name may only use letters" in problems


def test_two_skills_with_one_name_keep_the_first_and_report_the_second(root: Path) -> None:
    write_skill(root, "a-tool", "first")
    write_skill(root, "b", "---\nname: A_Tool\n---\nsecond")
    library = SkillLibrary(root)
    assert [s.path.parent.name for s in library.list()] == ["a-tool"]
    assert library.problems() == [
        "skills/b/SKILL.md: same name as skills/a-tool/SKILL.md; rename one"
    ]


def test_skills_in_category_folders_are_found(root: Path) -> None:
    write_skill(root, "research/arxiv", "---\ndescription: papers\n---\n")
    assert SkillLibrary(root).get("arxiv").description == "papers"


def test_a_missing_skills_folder_is_an_empty_library(tmp_path: Path) -> None:
    library = SkillLibrary(tmp_path / "nope")
    assert library.list() == [] and library.problems() == []


def test_instruction_is_the_body_plus_the_invocation(root: Path) -> None:
    write_skill(root, "greet", "---\nname: greet\ndescription: say hi\n---\n\nSay hello warmly.\n")
    library = SkillLibrary(root)
    skill = library.get("greet")
    text = library.instruction(skill, "  to Ada ")
    assert "Say hello warmly." in text
    assert "description: say hi" not in text  # front matter is not part of the instruction
    assert text.endswith("The user invoked /greet with: to Ada")
    assert str(root / "greet") in text  # the model can find files next to SKILL.md
    assert library.instruction(skill, "").endswith("The user invoked /greet with no arguments")
    bare = Skill("greet", "say hi", skill.path)  # built by hand: the body is read from disk
    assert "Say hello warmly." in library.instruction(bare, "x")


def test_front_matter_parser_handles_quotes_comments_and_block_values() -> None:
    meta, body = parse_front_matter(
        "---\n# comment\nname: 'x'\ndescription: >\n  folded over\n  two lines\n"
        "notes: |\n  kept\n  apart\nmetadata:\n  hermes:\n    tags: [a]\n---\nBody\n"
    )
    assert meta["name"] == "x"
    assert meta["description"] == "folded over two lines"
    assert meta["notes"] == "kept\napart"
    assert body == "Body"
    assert parse_front_matter("no front matter") == ({}, "no front matter")
