"""The results store: every sweep record, run and verdict, in one SQLite file (see sqlite.py)."""

from jaxmem.store.sqlite import SCHEMA_VERSION, Store, StoreError, default_store_path

__all__ = ["SCHEMA_VERSION", "Store", "StoreError", "default_store_path"]
