"""The daemon's wire format (app/daemon/wire.py) without a daemon: the encoder gives every
facade value its JSON form and refuses anything else by name; an error's hint crosses
and comes back as the same Hint (so `--remote` says it as in-process)."""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import pytest

from app.daemon import wire
from core.errors import Hint, LakehouseError, NotFound
from core.models import Column


def test_facade_values_encode_as_plain_makes_them():
    value = {"a": [1, 2.5, math.nan, None, True], "when": datetime(2024, 1, 2, 3, 4, 5), "day": date(2024, 1, 2),
             "d": Decimal("1.10"), "b": b"\x01\xff", "p": Path("/x/y"), "u": UUID(int=1), "t": timedelta(seconds=90),
             "s": {3}, "col": Column("id", "INTEGER")}
    out = json.loads(wire.line(wire.encode(value)))
    assert out == {"a": [1, 2.5, "nan", None, True], "when": "2024-01-02T03:04:05", "day": "2024-01-02",
                   "d": "1.10", "b": "01ff", "p": "/x/y", "u": str(UUID(int=1)), "t": "0:01:30", "s": [3],
                   "col": {"$type": "Column", "name": "id", "type": "INTEGER", "nullable": True}}
    assert wire.decode(out["col"]) == Column("id", "INTEGER")


def test_an_unknown_value_is_refused_not_guessed():
    @dataclasses.dataclass
    class Column:  # a core class's name, but not core's class
        name: str

    with pytest.raises(wire.Unencodable, match=r"test_wire\.Column .*only dataclasses defined in core"):
        wire.encode({"x": [Column("a")]})
    with pytest.raises(wire.Unencodable, match=r"builtins\.object .*none of the facade's values"):
        wire.encode([object()])


def test_a_hint_crosses_and_comes_back_as_itself():
    hint = Hint("run {the demo} again to continue from there", "demo", {"scale": 2})
    sent = NotFound("the demo stopped", hint=hint)
    err = json.loads(wire.line(wire.core_error(1, sent)))["error"]
    assert err["data"]["hint"] == "run the demo again to continue from there"
    back = wire.raised(err)
    assert type(back) is NotFound and str(back) == "the demo stopped" and back.hint == hint
    plain = wire.raised({"code": wire.LAKEHOUSE_ERROR, "message": "m", "data": {"type": "NotFound", "hint": "do x"}})
    assert plain.hint == Hint("do x")
    none = json.loads(wire.line(wire.core_error(1, LakehouseError("no hint"))))["error"]
    assert none["data"] == {"type": "LakehouseError", "exit_code": 1} and wire.raised(none).hint is None
