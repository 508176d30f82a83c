"""Every ``medinpaint ...`` command line written in the README, docs/, docker/, the configs and the benchmarks
parses: its command exists and each of its options is one that command takes (a renamed option fails here)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from medinpaint.cli import app

ROOT = Path(__file__).parents[1]
COMMANDS = set(get_command(app).commands)
# "medinpaint" then a command and its arguments, up to the end of the inline code, line or shell command
COMMAND_LINE = re.compile(r"(?:^|[\s`(\"'])medinpaint ([a-z][a-z-]*[^`;&|#\n)]*)")


def documented_commands() -> list[tuple[str, tuple[str, ...]]]:
    """(where, arguments) of each distinct documented command line; docs/cli.md is generated (test_cli checks it)."""
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "docker").iterdir()),
             *sorted(ROOT.glob("configs/**/*.yaml")), *sorted(ROOT.glob("medinpaint/configs/**/*.yaml")),
             *sorted((ROOT / "benchmarks").glob("*.py"))]
    found: dict[tuple[str, ...], str] = {}
    for path in files:
        if path.name == "cli.md":
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for match in COMMAND_LINE.finditer(line):
                text = match.group(1).strip()
                try:
                    arguments = shlex.split(text)
                except ValueError:  # an unbalanced quote in prose
                    arguments = text.split()
                if arguments[0] not in COMMANDS:
                    continue
                if arguments[-1].startswith("-"):  # the line wraps before this option's value
                    arguments = arguments[:-1]
                found.setdefault(tuple(arguments), f"{path.relative_to(ROOT)}:{number}")
    return [(where, arguments) for arguments, where in found.items()]


DOCUMENTED = documented_commands()


def test_the_documents_hold_commands_of_every_kind():
    assert len(DOCUMENTED) > 40
    assert {arguments[0] for _, arguments in DOCUMENTED} >= {"inpaint", "score", "train", "train-fill", "demo", "experiment"}


@pytest.mark.parametrize(("where", "arguments"), DOCUMENTED, ids=[where for where, _ in DOCUMENTED])
def test_a_documented_command_parses(where, arguments, tmp_path, monkeypatch):
    """``--help`` after the arguments: click parses them all (an unknown option or a missing value fails) before it helps."""
    monkeypatch.chdir(tmp_path)  # should a command run after all, what it writes lands here
    result = CliRunner().invoke(app, [*arguments, "--help"])
    assert result.exit_code == 0, f"{where}: medinpaint {shlex.join(arguments)}\n{result.output}"
