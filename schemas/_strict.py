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
    """Builds `cls` from `data`, rejecting unknown keys and mistyped values."""
    if not isinstance(data, Mapping):
        fail(path or cls.__name__, data, f"expected a mapping for {cls.__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        where = f"{path}." if path else ""
        raise ConfigError(
            f"unknown option(s) {', '.join(where + u for u in unknown)} for "
            f"{cls.__name__}; allowed: {', '.join(sorted(fields))}")
    hints = typing.get_type_hints(cls)
    kwargs = {name: _coerce(hints[name], value, _join(path, name))
              for name, value in data.items()}
    return cls(**kwargs)


class JsonConfig:
    """Mixin for the config dataclasses: strict dict/JSON round trips."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]):
        return from_dict(cls, data)

    @classmethod
    def from_json(cls, text: str):
        return cls.from_dict(json.loads(text))

    def to_json(self) -> str:
        return to_json(self)

    @classmethod
    def coerce(cls, config: Any):
        """An instance of cls from an instance or a dict (what components accept)."""
        if isinstance(config, cls):
            return config
        if isinstance(config, Mapping):
            return cls.from_dict(config)
        raise TypeError(f"config={config!r} is invalid: pass a {cls.__module__}.{cls.__name__} or a dict")


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _coerce(hint: Any, value: Any, path: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(inner[0], value, path)
    if dataclasses.is_dataclass(hint):
        return value if isinstance(value, hint) else from_dict(hint, value, path)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return _coerce_enum(hint, value, path)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            fail(path, value, "expected a list")
        return tuple(_coerce(args[0], v, f"{path}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, Mapping):
            fail(path, value, "expected a mapping")
        return {_coerce(args[0], k, path): _coerce(args[1], v, f"{path}[{k!r}]")
                for k, v in value.items()}
    return _coerce_scalar(hint, value, path)


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
    if isinstance(hint, type) and not isinstance(value, hint):
        fail(path, value, f"expected {hint.__name__}, got {type(value).__name__}")
    return value
