"""`tfx-edge vertex --pipeline MODULE:FUNCTION`: the user's pipeline factory and its arguments.

Argument logic only, no TFX or TensorFlow of its own: reading MODULE:FUNCTION and NAME=VALUE,
importing the function and matching the arguments against its signature, so that a wrong
name, a missing argument or a malformed value is refused before the function runs.
compile_vertex calls the function and compiles the pipeline it returns.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import inspect
import json
import keyword
import os
import re
import sys
from typing import Any, Callable, Mapping, NamedTuple, Sequence

EXAMPLE = "tfx.examples.penguin.penguin_pipeline_kubeflow:create_pipeline"
PYTHON_LITERALS = {"True": "true", "False": "false", "None": "null"}
KEYWORD_KINDS = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


class FactoryError(ValueError):
    """The function cannot be called with these arguments; the message names the input, the
    value and the fix."""


class PipelineArg(NamedTuple):
    name: str
    value: Any
    text: str   # as given, NAME=VALUE


def factory_reference(text: str) -> str:
    """argparse type of --pipeline: MODULE:FUNCTION, each a dotted Python name."""
    module, colon, function = text.partition(":")
    if not colon:
        raise argparse.ArgumentTypeError(f"{text!r} has no ':'; give MODULE:FUNCTION, e.g. {EXAMPLE}")
    for part in (module, function):
        if not _dotted_name(part):
            raise argparse.ArgumentTypeError(f"{text!r}: {part!r} is not a dotted Python name; give "
                                             f"MODULE:FUNCTION, e.g. {EXAMPLE}")
    return text


def _dotted_name(text: str) -> bool:
    return all(part.isidentifier() and not keyword.iskeyword(part) for part in text.split("."))


def pipeline_arg(text: str) -> PipelineArg:
    """argparse type of --pipeline-arg: NAME=VALUE, VALUE read as JSON when it parses as JSON,
    else as a string. Python's True/False/None are refused: as JSON they would be strings."""
    name, equals, raw = text.partition("=")
    if not equals:
        raise argparse.ArgumentTypeError(f"{text!r} has no '='; give NAME=VALUE, e.g. enable_cache=false")
    if not name.isidentifier() or keyword.iskeyword(name):
        raise argparse.ArgumentTypeError(f"{text!r}: {name!r} is not a parameter name; give NAME=VALUE, "
                                         f"e.g. enable_cache=false")
    if raw in PYTHON_LITERALS:
        raise argparse.ArgumentTypeError(
            f"{text!r}: VALUE is read as JSON, where {raw} would be the string {raw!r}; write "
            f"{name}={PYTHON_LITERALS[raw]} (JSON), or {name}='\"{raw}\"' for the string")
    return PipelineArg(name, parse_value(raw), text)


def parse_value(raw: str) -> Any:
    """JSON when `raw` parses as JSON (false, 100, [], {"a": 1}, "text"), else `raw` itself."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def default_name(reference: str) -> str:
    """A pipeline name from the module's last part: penguin_pipeline_kubeflow -> penguin-pipeline-kubeflow
    (Vertex takes lowercase letters, digits and '-')."""
    module = reference.partition(":")[0].rsplit(".", 1)[-1]
    return re.sub(r"[^a-z0-9-]+", "-", module.lower()).strip("-") or "pipeline"


def load(reference: str) -> Callable[..., Any]:
    """The function MODULE:FUNCTION names, the module imported as `python -m` finds it (the
    current directory first, then sys.path)."""
    module_name, _, path = reference.partition(":")
    owner: Any = _import(reference, module_name)
    for attr in path.split("."):
        if not hasattr(owner, attr):
            close = difflib.get_close_matches(attr, _functions(owner), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise FactoryError(f"--pipeline {reference!r}: {_describe(owner)} has no {attr!r}{hint}; its functions: "
                               f"{', '.join(_functions(owner)) or 'none'}")
        owner = getattr(owner, attr)
    if not callable(owner):
        raise FactoryError(f"--pipeline {reference!r}: {path} is a {type(owner).__name__}, not a function; name the "
                           f"function that returns the tfx.dsl.Pipeline")
    return owner


def _import(reference: str, module_name: str) -> Any:
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(module_name)
    except ImportError as error:
        missing = error.name or ""
        if missing and (module_name == missing or module_name.startswith(missing + ".")):
            raise FactoryError(f"--pipeline {reference!r}: no module named {missing!r} (searched the current "
                               f"directory {cwd} and sys.path); check the spelling, or run from the directory "
                               f"that holds it, or add that directory to PYTHONPATH") from None
        raise FactoryError(f"--pipeline {reference!r}: module {module_name!r} was found but importing it failed: "
                           f"{error}; install what it imports") from None


def _describe(owner: Any) -> str:
    if inspect.ismodule(owner):
        return f"module {owner.__name__!r} ({getattr(owner, '__file__', None) or 'built in'})"
    return f"{type(owner).__name__} {getattr(owner, '__qualname__', owner)!r}"


def _functions(owner: Any) -> list[str]:
    """The public callables `owner` defines (a module: not the ones it imports)."""
    names = [n for n in dir(owner) if not n.startswith("_") and callable(getattr(owner, n, None))]
    if inspect.ismodule(owner):
        names = [n for n in names if getattr(getattr(owner, n), "__module__", None) == owner.__name__]
    return sorted(names)


def check_unique(given: Sequence[PipelineArg]) -> None:
    seen: dict[str, str] = {}
    for arg in given:
        if arg.name in seen:
            raise FactoryError(f"--pipeline-arg {seen[arg.name]} and --pipeline-arg {arg.text} both set "
                               f"{arg.name!r}; give it once")
        seen[arg.name] = arg.text


def keyword_arguments(function: Callable[..., Any], label: str, given: Sequence[PipelineArg],
                      supplied: Mapping[str, Any], explicit: Mapping[str, str]) -> dict[str, Any]:
    """The keyword arguments to call `function` with: each --pipeline-arg (`given`), then each of
    `supplied` (pipeline_root, pipeline_name) that the function has a parameter of that name for
    and no --pipeline-arg sets. `explicit`: {parameter: flag} for the supplied values the user
    gave by a flag, refused when they would be ignored. Refused (FactoryError) before the call:
    a name given twice, a name the function does not take, a required parameter left unset."""
    check_unique(given)
    parameters = _parameters(function, label)
    named = {n: p for n, p in parameters.items() if p.kind in KEYWORD_KINDS}
    any_name = any(p.kind == inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    for arg in given:
        if arg.name not in named and not any_name:
            raise FactoryError(_unknown(label, arg, named))
    kwargs = {arg.name: arg.value for arg in given}
    _check_explicit(label, explicit, kwargs, named)
    kwargs.update({n: v for n, v in supplied.items() if n in named and n not in kwargs})
    _check_required(label, parameters, kwargs)
    return kwargs


def _parameters(function: Callable[..., Any], label: str) -> Mapping[str, inspect.Parameter]:
    try:
        return inspect.signature(function).parameters
    except (TypeError, ValueError) as error:
        raise FactoryError(f"--pipeline {label!r}: cannot read its parameters ({error}); name a Python "
                           f"function") from None


def _unknown(label: str, arg: PipelineArg, named: Mapping[str, inspect.Parameter]) -> str:
    close = difflib.get_close_matches(arg.name, named, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    takes = ", ".join(str(p.replace(annotation=inspect.Parameter.empty)) for p in named.values())
    return (f"--pipeline-arg {arg.text}: {_function(label)} has no parameter {arg.name!r}{hint}; "
            f"it takes: {takes or 'no keyword arguments'}")


def _check_explicit(label: str, explicit: Mapping[str, str], kwargs: Mapping[str, Any],
                    named: Mapping[str, inspect.Parameter]) -> None:
    for name, flag in explicit.items():
        if name in kwargs:
            raise FactoryError(f"{flag} and --pipeline-arg {name}=... both set {name}; give one of them")
        if name not in named:
            raise FactoryError(f"{flag}: {_function(label)} has no parameter {name!r}, so the flag would be "
                               f"ignored (its pipeline sets its own); drop {flag.split()[0]}")


def _check_required(label: str, parameters: Mapping[str, inspect.Parameter], kwargs: Mapping[str, Any]) -> None:
    required = [p for p in parameters.values() if p.default is p.empty and p.name not in kwargs
                and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)]
    positional = [p.name for p in required if p.kind == inspect.Parameter.POSITIONAL_ONLY]
    if positional:
        raise FactoryError(f"--pipeline {label!r}: {_function(label)} has positional-only parameters "
                           f"({', '.join(positional)}), which keyword arguments cannot set; point --pipeline at "
                           f"a function with keyword parameters that calls it")
    if required:
        width = max(len(p.name) for p in required)
        lines = "".join(f"\n  --pipeline-arg {p.name}=VALUE{_annotation(p, width - len(p.name))}" for p in required)
        raise FactoryError(f"--pipeline {label!r}: {_function(label)} needs {', '.join(p.name for p in required)}, "
                           f"which no --pipeline-arg sets; add{lines}")


def _function(label: str) -> str:
    return f"{label.partition(':')[2]}()"


def _annotation(parameter: inspect.Parameter, pad: int) -> str:
    """'  (its annotation)', aligned; '' without one."""
    if parameter.annotation is parameter.empty:
        return ""
    text = parameter.annotation if isinstance(parameter.annotation, str) else \
        inspect.formatannotation(parameter.annotation)
    return f"{' ' * pad}   ({text})"
