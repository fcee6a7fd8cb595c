"""The command line's argument parsing: one-line errors, and options generated from a settings dataclass's fields."""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Callable, Iterable
from typing import Any, NoReturn


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (what is wrong, and where to read more)."""

    def error(self, message: str) -> NoReturn:
        """Print `prog: error: message (see prog -h)` and exit with status 2."""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} -h)\n")


def field_help(settings: type, name: str) -> str:
    """The help text a settings dataclass declares for its field `name`."""
    return settings.__dataclass_fields__[name].metadata["help"]


def add_settings(parser: argparse.ArgumentParser, settings: type, names: Iterable[str] | None = None,
                 defaults: Any = None) -> None:
    """One option per field of the dataclass `settings` (all, or `names`), from the field's type and metadata.

    metadata: help; flag (default --the-field-name); choices; scale (the option's value times scale is the field's);
    negative (for a bool: a second flag setting it False, the first then setting it True, so either way can be asked
    for whatever the default). A bool field without negative is a switch that flips its default. defaults: an
    instance whose values are the options' defaults (shown in the help); None leaves every option None unless given,
    so a preset can fill the rest.
    """
    hints = typing.get_type_hints(settings)
    for field in dataclasses.fields(settings):
        if names is not None and field.name not in names:
            continue
        meta = field.metadata
        kind = _plain_type(hints[field.name])
        options: dict[str, Any] = {"dest": field.name, "help": meta["help"], "default": None}
        if kind is bool and "negative" in meta:
            options.update(action="store_const", const=True)
        elif kind is bool:
            options["action"] = "store_false" if field.default else "store_true"
        else:
            options["type"] = _scaled(kind, meta["scale"]) if "scale" in meta else kind
            if "choices" in meta:
                options["choices"] = meta["choices"]
        if defaults is not None:
            options["default"] = getattr(defaults, field.name)
            options["help"] += f" (default: {options['default']})"
        flag = meta.get("flag", "--" + field.name.replace("_", "-"))
        if "negative" in meta:
            pair = parser.add_mutually_exclusive_group()
            pair.add_argument(flag, **options)
            pair.add_argument(meta["negative"], dest=field.name, action="store_const", const=False,
                              default=options["default"], help=f"the opposite of {flag}")
        else:
            parser.add_argument(flag, **options)


def _plain_type(hint: Any) -> type:
    """int | None -> int; other hints as they are."""
    if isinstance(hint, types.UnionType):
        return next(arg for arg in typing.get_args(hint) if arg is not type(None))
    return hint


def _scaled(kind: type, scale: float) -> Callable[[str], Any]:
    """An argparse type: the text read as `kind`, times scale (e.g. minutes -> seconds); named as `kind` in errors."""
    def convert(text: str) -> Any:
        return kind(text) * scale

    convert.__name__ = kind.__name__
    return convert
