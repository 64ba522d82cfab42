"""Operator attributes most tasks share are kept once, on the class, once unpickled.

An operator sets ~50 attributes, nearly all to their defaults. Unpickled (the
zygote holds every DAG it runs tries of, and forks a process per try), each
kept its own dict of ~50 entries and ~10 empty lists and sets: ~3 KB per task,
~500 MB for a 100,000-task DAG, whose page tables every fork copies. So an
operator's pickled state leaves out each attribute whose value its class
already gives: an immutable default (`share_defaults`), or an empty container
that the class hands out fresh, one per operator, on first read.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from typing import Any

_MISSING: Any = object()


class FreshEmpty:
    """A class attribute that gives each instance its own empty container on first read.

    A non-data descriptor: once read (or assigned), the instance's own value
    shadows it, so an operator that appends to its list keeps its own list.
    """

    def __init__(self, name: str, factory: Callable[[], Any]) -> None:
        self.name = name
        self.factory = factory

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        if instance is None:
            return self
        value = self.factory()
        instance.__dict__[self.name] = value
        return value

    def is_empty(self, value: object) -> bool:
        return type(value) is self.factory and not value


def share_defaults(
    cls: type, values: Mapping[str, object], fresh: Mapping[str, Callable[[], Any]]
) -> None:
    """Make `values` (immutable) and fresh empty `fresh` containers `cls`'s class-level defaults.

    Attributes named here must be set by `cls.__init__` as before; the class
    values only stand in for those an unpickled instance's state left out.
    """
    for name, value in values.items():
        setattr(cls, name, value)
    for name, factory in fresh.items():
        setattr(cls, name, FreshEmpty(name, factory))
    shared = dict(getattr(cls, "_shared_names", {}))
    shared.update(dict.fromkeys([*values, *fresh]))
    cls._shared_names = shared  # type: ignore[attr-defined]


#: Per class, the class-level value of each shared attribute (resolved once along the MRO,
#: so a subclass's own class attribute of the same name is the one compared with). Weak: a
#: DAG file's own operator classes come and go with the DAG versions a process loads.
_CLASS_VALUES: weakref.WeakKeyDictionary[type, dict[str, object]] = weakref.WeakKeyDictionary()


def _class_values(cls: type) -> dict[str, object]:
    values = _CLASS_VALUES.get(cls)
    if values is None:
        values = {}
        for name in getattr(cls, "_shared_names", ()):
            for klass in cls.__mro__:
                if name in vars(klass):
                    values[name] = vars(klass)[name]
                    break
        _CLASS_VALUES[cls] = values
    return values


def compact_state(instance: object) -> dict[str, Any]:
    """`instance.__dict__` without the attributes its class would give back equal."""
    defaults = _class_values(type(instance))
    state = {}
    for name, value in instance.__dict__.items():
        default = defaults.get(name, _MISSING)
        if default is _MISSING:
            state[name] = value
        elif isinstance(default, FreshEmpty):
            if not default.is_empty(value):
                state[name] = value
        elif value is not default and (type(value) is not type(default) or value != default):
            state[name] = value
    return state
