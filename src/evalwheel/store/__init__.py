"""The run store: every result is written as it completes; SQLite by default, any SQLAlchemy URL for teams."""

from evalwheel.store.store import DEFAULT_STORE, Store, StoreError, store_url

__all__ = ["DEFAULT_STORE", "Store", "StoreError", "store_url"]
