"""Names that reach the filesystem or SQL: validated, never trusted."""

import re

from core.errors import NameError_

_VALID = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def _check(name: str, what: str) -> str:
    if not isinstance(name, str) or not _VALID.fullmatch(name):  # fullmatch: "$" would let "x\n" in
        raise NameError_(
            f"{what} name {name!r} is invalid: use lowercase letters, digits and _ "
            "(starting with a letter, at most 63 characters; no path characters or '..')"
        )
    return name


def check_dataset_name(name: str) -> str:
    """Return `name` if it is a valid dataset name, else raise one clear error."""
    return _check(name, "dataset")


def check_index_name(name: str) -> str:
    return _check(name, "index")


def check_eval_name(name: str) -> str:
    return _check(name, "eval set")


def dataset_name_from_stem(stem: str) -> str:
    """Derive a valid dataset name from a file name: 'Sales Q1-2024' -> 'sales_q1_2024'."""
    name = re.sub(r"[^a-z0-9]+", "_", stem.lower()).strip("_")
    if not name:
        name = "data"
    if not name[0].isalpha():
        name = "t_" + name
    return name[:63].rstrip("_")


def quote_ident(name: str) -> str:
    """Quote an identifier for DuckDB SQL."""
    return '"' + name.replace('"', '""') + '"'


def sql_str(s: str) -> str:
    """Quote a string literal for DuckDB SQL (the one place quoting is written)."""
    return "'" + s.replace("'", "''") + "'"

