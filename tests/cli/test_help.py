"""Every command and option says what it does; usage errors exit 2."""

from __future__ import annotations

from collections.abc import Iterator

import click
from click.testing import CliRunner

from signoff.cli import main


def _commands(group: click.Group, prefix: str = "signoff") -> Iterator[tuple[str, click.Command]]:
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        yield path, command
        if isinstance(command, click.Group):
            yield from _commands(command, path)


def test_every_command_and_option_has_help() -> None:
    found = dict(_commands(main))
    assert {
        "signoff users create",
        "signoff users list",
        "signoff loops create",
        "signoff loops list",
        "signoff requests list",
        "signoff requests show",
        "signoff requests approve",
        "signoff requests reject",
        "signoff requests cancel",
        "signoff export",
        "signoff demo",
        "signoff keys create",
        "signoff audit verify",
    } <= set(found)
    for path, command in found.items():
        assert (command.help or "").strip(), path
        for param in command.params:
            if isinstance(param, click.Option):
                assert (param.help or "").strip(), (path, param.name)
        shown = CliRunner().invoke(main, [*path.split()[1:], "--help"], prog_name="signoff")
        assert shown.exit_code == 0 and "Usage: signoff" in shown.stdout, path


def test_usage_errors_exit_2() -> None:
    for args in (["nope"], ["requests", "show"], ["users", "create", "--email"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2, (args, result.output)
