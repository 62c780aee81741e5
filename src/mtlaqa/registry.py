"""A name -> factory table: registering a name twice raises, unknown names and options a factory
does not take are one-line errors, and the names can be listed.

A factory declares the options it reads by its signature (no `**kwargs` catch-all), so an option
it would ignore is refused instead of silently dropped.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping
from typing import Generic, TypeVar

from mtlaqa.errors import MtlaqaError

F = TypeVar("F", bound=Callable[..., object])


class Registry(Mapping[str, F], Generic[F]):
    """Factories of one kind (`kind` names it in errors, e.g. 'backbone' or 'model.arch')."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._table: dict[str, F] = {}

    def register(self, name: str) -> Callable[[F], F]:
        """Decorator: add `fn` under `name`; a name already taken raises."""

        def deco(fn: F) -> F:
            self.add(name, fn)
            return fn

        return deco

    def add(self, name: str, fn: F) -> None:
        """Add `fn` under `name`; a name already taken raises (no silent overwrite)."""
        if name in self._table:
            raise MtlaqaError(
                f"{self.kind} {name!r} is already registered "
                f"(by {_qualname(self._table[name])}); choose another name"
            )
        self._table[name] = fn

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._table)

    def get_factory(self, name: str) -> F:
        """The factory `name`, or a one-line error listing the registered names."""
        if name not in self._table:
            raise MtlaqaError(
                f"unknown {self.kind} {name!r}; choose one of: {', '.join(self.names())}"
            )
        return self._table[name]

    def options(self, name: str) -> frozenset[str] | None:
        """The keyword options factory `name` reads (None: it takes any, by `**kwargs`)."""
        params = inspect.signature(self.get_factory(name)).parameters.values()
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
            return None
        keyword = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        return frozenset(p.name for p in params if p.kind in keyword)

    def check_options(self, name: str, options: Mapping[str, object]) -> None:
        """Raise a one-line error naming the first option factory `name` does not read."""
        known = self.options(name)
        if known is None:
            return
        for key in options:
            if key not in known:
                raise MtlaqaError(
                    f"{self.kind} {name!r} does not use option {key!r} "
                    f"(it takes: {', '.join(sorted(known)) or 'none'})"
                )

    def build(self, name: str, **options: object) -> object:
        """Call factory `name` with `options`, refusing options it does not read."""
        self.check_options(name, options)
        return self.get_factory(name)(**options)

    def __getitem__(self, name: str) -> F:
        return self._table[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._table)

    def __len__(self) -> int:
        return len(self._table)


def _qualname(fn: object) -> str:
    module = getattr(fn, "__module__", "?")
    return f"{module}.{getattr(fn, '__qualname__', repr(fn))}"
