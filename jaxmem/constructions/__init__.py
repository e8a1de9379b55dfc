"""Constructions, one module per paper: `build(key, X, y, **options) -> (net, info)`."""

from jaxmem.constructions import bubeck2020, yu2024, zhang2017

__all__ = ["bubeck2020", "yu2024", "zhang2017"]
