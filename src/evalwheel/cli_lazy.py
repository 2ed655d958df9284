"""Sub-commands imported on first use, so `evalwheel --help` and `evalwheel run --help` start fast.

Why: every sub-command module imports its own stack (the run engine pulls in aiohttp and SQLAlchemy, `serve`
FastAPI, the graders numpy); importing them all to print one help screen cost seconds. `LazyGroup` lists
each lazy command from a table of (import target, one-line help) and imports the module only when the
command is actually invoked; `--help` of the root shows the table's help lines without importing anything.
"""

from __future__ import annotations

import importlib
from typing import Any, ClassVar

import typer
import typer._click as click
from typer.core import TyperCommand, TyperGroup


def load_target(target: str) -> Any:
    """`module:attr` -> the object; an attribute named `load_*` is a zero-argument loader and is called."""
    module, _, attr = target.partition(":")
    obj = getattr(importlib.import_module(module), attr)
    return obj() if attr.startswith("load_") else obj


def plain_help(cmd: click.Command) -> click.Command:
    """Plain (click) help and usage errors for `cmd` and its sub-commands, not rich panels.

    Why: rendering help through rich imports typer.rich_utils, which imports rich.markdown, rich.syntax (pygments)
    and rich.traceback: about 0.2 s of CPU, a third of `evalwheel run --help` (start-up target < 0.6 s, issue 15).
    No help text here uses markup, so the words are the same; only the boxes go.
    """
    if hasattr(cmd, "rich_markup_mode"):
        cmd.rich_markup_mode = None
    for sub in getattr(cmd, "commands", {}).values():
        plain_help(sub)
    return cmd


def to_click(name: str, obj: Any) -> click.Command:
    """A Typer sub-app becomes a click group, a command function a click command, both named `name`."""
    if isinstance(obj, typer.Typer):
        cmd: click.Command = typer.main.get_group(obj)
    else:
        single = typer.Typer(add_completion=False)  # as the root app: no per-command completion options
        single.command(name)(obj)
        cmd = typer.main.get_command(single)
    cmd.name = name
    return plain_help(cmd)


class LazyGroup(TyperGroup):
    """A TyperGroup whose `lazy` commands (name -> (target, help)) are imported when resolved.

    Listing (help screens) sees a stub carrying the one-line help; resolving a command for execution
    imports the real one and replaces the stub. Subclass with `lazy_group(table)`.
    """

    lazy: ClassVar[dict[str, tuple[str, str]]] = {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = list(super().list_commands(ctx))
        return names + [n for n in self.lazy if n not in names]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        cmd = super().get_command(ctx, cmd_name)
        if cmd is not None or cmd_name not in self.lazy:
            return cmd
        short = self.lazy[cmd_name][1]
        return TyperCommand(cmd_name, help=short, short_help=short, rich_markup_mode=None)  # listing: no import

    def load(self, cmd_name: str) -> click.Command | None:
        cmd = self.commands.get(cmd_name)
        if cmd is None and cmd_name in self.lazy:
            cmd = to_click(cmd_name, load_target(self.lazy[cmd_name][0]))
            self.add_command(cmd, cmd_name)
        return cmd

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] in self.lazy:
            self.load(args[0])
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; an unreadable input or unwritable output file (fileio.FileReadError, FileWriteError)
        an EVALWHEEL_EVENT_LOOP naming no usable loop, or a server address that is refused or cannot be bound
        (serving.BindRefused) is exit 2 with its one-line message. Why here: the
        installed `evalwheel` script calls `cli:app`, not `cli:main`, so this is the one place every command (and
        CliRunner) passes through."""
        from evalwheel.closing import freeze_heap_at_exit
        from evalwheel.eventloop import EventLoopChoiceError
        from evalwheel.fileio import FileReadError
        from evalwheel.serving import BindRefused

        freeze_heap_at_exit()  # the process ends after its command: skip the final collection (evalwheel.closing)
        try:
            return super().invoke(ctx)
        except (FileReadError, EventLoopChoiceError, BindRefused) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None


def lazy_group(table: dict[str, tuple[str, str]]) -> type[LazyGroup]:
    """A LazyGroup subclass bound to `table` (pass it as `typer.Typer(cls=...)`)."""
    return type("EvalwheelLazyGroup", (LazyGroup,), {"lazy": dict(table)})
