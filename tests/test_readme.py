"""README.md documents every setting, command and route; CI runs its test command."""

from __future__ import annotations

import re

import pytest
import typer.main

from app.cli import cli
from app.settings import Settings
from tests.factories import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")


def cli_commands() -> list[str]:
    group = typer.main.get_command(cli)
    names = []
    for name, command in group.commands.items():
        subcommands = getattr(command, "commands", None)
        names += [f"{name} {sub}" for sub in subcommands] if subcommands else [name]
    return names


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_readme_documents_setting(field):
    assert f"`SATWA_{field.upper()}`" in README


@pytest.mark.parametrize("command", cli_commands())
def test_readme_documents_cli_command(command):
    assert f"`satwa {command}" in README


def test_readme_documents_every_route():
    from app.api.app import create_app

    paths = create_app(Settings()).openapi()["paths"]
    for path, operations in paths.items():
        for method in operations:
            assert f"`{method.upper()} {path}`" in README, f"{method} {path}"


def test_ci_runs_the_readme_test_command():
    ci_lines = (REPO_ROOT / ".ci/run").read_text().splitlines()
    fenced = re.findall(r"```sh\n(.*?)```", README, flags=re.DOTALL)
    readme_commands = {line.strip() for block in fenced for line in block.splitlines()}
    assert "./scripts/test.sh" in readme_commands
    assert "./scripts/test.sh" in [line.strip() for line in ci_lines]
