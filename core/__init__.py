"""Lakehouse core: the engine behind every frontend. Imports no UI library.

`from core import Lakehouse` is cheap: heavy modules load on first use.
"""

from core.errors import LakehouseError

__all__ = ["Lakehouse", "LakehouseError"]


def __getattr__(name):
    if name == "Lakehouse":
        from core.lakehouse import Lakehouse

        return Lakehouse
    raise AttributeError(name)
