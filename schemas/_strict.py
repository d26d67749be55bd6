"""Strict dict <-> dataclass conversion shared by the typed configurations.

Every configuration in `schemas/` is a frozen dataclass. Configurations travel
between the component (pipeline construction) and the executor (run time,
possibly in another container) as JSON; `from_dict` rebuilds them and rejects
unknown keys and wrong types with a message naming the field path, the value
and the fix, so a typo never becomes a silently ignored option.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
from typing import Any, Mapping, TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration value is invalid. The message names field, value and fix."""


def fail(field: str, value: Any, fix: str) -> None:
    raise ConfigError(f"{field}={value!r} is invalid: {fix}")


def to_dict(config: Any) -> dict[str, Any]:
    """A JSON-ready dict of a configuration dataclass (enums by value)."""
    return _plain(dataclasses.asdict(config))


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def to_json(config: Any) -> str:
    return json.dumps(to_dict(config), sort_keys=True)


def from_dict(cls: type[T], data: Mapping[str, Any], path: str = "") -> T:
    """Builds `cls` from `data`, rejecting unknown keys, missing required keys and mistyped
    values (list elements, tuple items, union members and Literal values included)."""
    if not isinstance(data, Mapping):
        fail(path or cls.__name__, data, f"expected a mapping for {cls.__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    where = f"{path}." if path else ""
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"unknown option(s) {', '.join(where + str(u) for u in unknown)} for "
            f"{cls.__name__}; allowed: {', '.join(sorted(fields))}")
    missing = [name for name, f in fields.items() if name not in data and _required(f)]
    if missing:
        raise ConfigError(f"{cls.__name__} needs option(s) {', '.join(where + m for m in missing)}, "
                          f"which {'is' if len(missing) == 1 else 'are'} missing; set "
                          f"{'it' if len(missing) == 1 else 'them'} (see {cls.__module__}.{cls.__name__})")
    hints = typing.get_type_hints(cls)
    kwargs = {name: _coerce(hints[name], value, _join(path, name))
              for name, value in data.items()}
    return cls(**kwargs)


def _required(field: dataclasses.Field) -> bool:
    return field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING


def check_fields(instance: Any, prefix: str = "") -> None:
    """Type-checks every field of a dataclass instance built in Python (not from a dict), so
    `MetricThreshold(lower_bound="0.9")` fails naming the field instead of deep in a comparison.
    Ints are accepted where a float is expected (and stored as given)."""
    hints = typing.get_type_hints(type(instance))
    name = prefix or type(instance).__name__
    for field in dataclasses.fields(instance):
        _coerce(hints[field.name], getattr(instance, field.name), f"{name}.{field.name}")


J = TypeVar("J", bound="JsonConfig")


class JsonConfig:
    """Mixin for the config dataclasses: strict dict/JSON round trips."""

    @classmethod
    def from_dict(cls: type[J], data: Mapping[str, Any]) -> J:
        return from_dict(cls, data)

    @classmethod
    def from_json(cls: type[J], text: str) -> J:
        return cls.from_dict(json.loads(text))

    def to_json(self) -> str:
        return to_json(self)

    @classmethod
    def coerce(cls: type[J], config: Any) -> J:
        """An instance of cls from an instance or a dict (what components accept)."""
        if isinstance(config, cls):
            return config
        if isinstance(config, Mapping):
            return cls.from_dict(config)
        raise TypeError(f"config={config!r} is invalid: pass a {cls.__module__}.{cls.__name__} or a dict")


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _coerce(hint: Any, value: Any, path: str) -> Any:
    if hint is Any:
        raise TypeError(f"{path}: typing.Any is not allowed in a strict record or config")
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return _coerce_union(args, value, path)
    if origin is typing.Literal:
        if value not in args or type(value) is bool and not any(a is value for a in args):
            fail(path, value, f"use one of {', '.join(repr(a) for a in args)}")
        return value
    if dataclasses.is_dataclass(hint):
        return value if isinstance(value, hint) else from_dict(hint, value, path)  # type: ignore[arg-type]
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return _coerce_enum(hint, value, path)
    if origin in (tuple, list):
        return _coerce_sequence(origin, args, value, path)
    if origin is dict:
        if not isinstance(value, Mapping):
            fail(path, value, "expected a mapping")
        return {_coerce(args[0], k, f"{path} key"): _coerce(args[1], v, f"{path}[{k!r}]")
                for k, v in value.items()}
    return _coerce_scalar(hint, value, path)


def _coerce_union(args: tuple, value: Any, path: str) -> Any:
    if value is None:
        if type(None) in args:
            return None
        fail(path, value, f"a value is required ({' or '.join(_name(a) for a in args)})")
    members = [a for a in args if a is not type(None)]
    exact = [a for a in members if isinstance(a, type) and type(value) is a]
    errors = []
    for member in exact + [m for m in members if m not in exact]:
        try:
            return _coerce(member, value, path)
        except ConfigError as error:
            errors.append(str(error))
    if len(members) == 1:
        raise ConfigError(errors[0])
    fail(path, value, f"expected {' or '.join(_name(a) for a in args)}")


def _coerce_sequence(origin: Any, args: tuple, value: Any, path: str) -> Any:
    if not isinstance(value, (list, tuple)):
        fail(path, value, "expected a list")
    if origin is tuple and args and args[-1] is not Ellipsis and len(args) != 1:
        if len(value) != len(args):
            fail(path, value, f"expected a list of {len(args)} items")
        return tuple(_coerce(a, v, f"{path}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
    item = args[0] if args else Any
    items = [_coerce(item, v, f"{path}[{i}]") for i, v in enumerate(value)]
    return tuple(items) if origin is tuple else items


def _name(hint: Any) -> str:
    return "None" if hint is type(None) else getattr(hint, "__name__", str(hint))


def _coerce_enum(hint: type[enum.Enum], value: Any, path: str) -> enum.Enum:
    if isinstance(value, hint):
        return value
    try:
        return hint(value)
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in hint)
        raise ConfigError(f"{path}={value!r} is not a known value; use one of {allowed}") from None


def _coerce_scalar(hint: Any, value: Any, path: str) -> Any:
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float) and isinstance(value, bool):
        fail(path, value, f"expected a number ({hint.__name__}), not a boolean")
    if hint is bool and not isinstance(value, bool):
        fail(path, value, f"expected true or false, got {type(value).__name__}")
    if hint in (int, float) and isinstance(value, str):
        fail(path, value, f"expected {hint.__name__} (a number), got a string; write it without quotes")
    if isinstance(hint, type) and not isinstance(value, hint):
        fail(path, value, f"expected {hint.__name__}, got {type(value).__name__}")
    return value


def need(value: T | None, field: str) -> T:
    """`value` where the config guarantees it is set (validated on construction): a None here is
    a programming error, named by field, never an AttributeError deep in the code."""
    if value is None:
        raise ConfigError(f"{field} is not set, but this step needs it; set {field}=...")
    return value
