"""jaxmem: check theorems about memorization networks by running them at scale."""

__version__ = "0.1.0"
