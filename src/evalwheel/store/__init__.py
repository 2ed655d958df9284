"""The run store: every result is written as it completes; SQLite by default, any SQLAlchemy URL for teams.

Re-exports are lazy (evalwheel.lazy_exports): `from evalwheel.store import StoreError` must not import
SQLAlchemy, which `evalwheel run` imports only once the store is opened (after the preflight probe).
"""

from typing import TYPE_CHECKING

from evalwheel.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from evalwheel.store.errors import StoreError
    from evalwheel.store.store import DEFAULT_STORE, Store, store_url

_EXPORTS = {
    "DEFAULT_STORE": "evalwheel.store.store",
    "Store": "evalwheel.store.store",
    "StoreError": "evalwheel.store.errors",
    "store_url": "evalwheel.store.store",
}

__all__ = ["DEFAULT_STORE", "Store", "StoreError", "store_url"]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
