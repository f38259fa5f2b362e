"""A facade call's params checked against its operation's signature (core.api): bound by
position or name, plain JSON types where the annotation is one, and the JSON rows a
result may hold capped — each problem one -32602 sentence naming the parameters."""

from __future__ import annotations

import inspect
import json

# integer params that size a JSON result: capped at [daemon] max_json_rows
_SIZE_PARAMS = {"limit", "k", "sample_rows"}


class BadParams(Exception):
    """Params a method cannot take: answered -32602 (wire.INVALID_PARAMS)."""


def bind(method: str, sig: inspect.Signature, params, max_json_rows: int) -> inspect.BoundArguments:
    """The call's arguments, or BadParams saying what is wrong with them."""
    try:
        bound = sig.bind(*params) if isinstance(params, list) else sig.bind(**params)
    except TypeError as e:
        raise BadParams(f"wrong params for {method}{_show(sig)}: {e}") from None
    for name, value in bound.arguments.items():
        problem = _type_problem(sig.parameters[name].annotation, value)
        if problem:
            raise BadParams(f"wrong params for {method}{_show(sig)}: {name!r} must be {problem}, "
                            f"got {json.dumps(value)[:60]}")
        if (name in _SIZE_PARAMS and isinstance(value, int) and not isinstance(value, bool)
                and value > max_json_rows):
            raise BadParams(f"{method}: {name} = {value:,} is over the {max_json_rows:,} rows a JSON "
                            "result may hold ([daemon] max_json_rows) — use sql_stream for big results")
    return bound


# JSON value types each plain annotation accepts (the facade's annotations are strings)
_JSON_TYPES = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,), "None": (type(None),),
               "list": (list,), "dict": (dict,)}
_TYPE_WORDS = {"int": "an integer", "float": "a number", "str": "a string", "bool": "true or false",
               "None": "null", "list": "an array", "dict": "an object"}


def _type_problem(annotation, value) -> str:
    """What a parameter must be when `value` does not fit its annotation ("" when it fits,
    or when the annotation is not a plain JSON type and the method checks it itself)."""
    if not isinstance(annotation, str):
        return ""
    parts = [p.strip().split("[", 1)[0] for p in annotation.split("|")]
    if not parts or any(p not in _JSON_TYPES for p in parts):
        return ""
    if isinstance(value, bool) and "bool" not in parts:
        ok = False
    else:
        ok = any(isinstance(value, _JSON_TYPES[p]) for p in parts)
    return "" if ok else " or ".join(_TYPE_WORDS[p] for p in parts)


def _show(sig: inspect.Signature) -> str:
    return "(" + ", ".join(p.name for p in sig.parameters.values() if p.name not in ("cancel",)) + ")"
