"""Constructions, one module per paper: `build(key, X, y, **options) -> (net, info)`.

Float (JAX) networks: zhang2017, bubeck2020, genzel2023, yu2024 (M1), yun2019. Exact
(jaxmem.exact) networks, whose registers no float holds: yu2024_width6 (Theorem 4.1, M3),
park2021 (M2, reconstructed), yu2024_hardness (the Theorem 6.5(2) gadget); yun2019 has both.
"""

from jaxmem.constructions import (
    bubeck2020,
    genzel2023,
    park2021,
    yu2024,
    yu2024_hardness,
    yu2024_width6,
    yun2019,
    zhang2017,
)

__all__ = [
    "bubeck2020",
    "genzel2023",
    "park2021",
    "yu2024",
    "yu2024_hardness",
    "yu2024_width6",
    "yun2019",
    "zhang2017",
]
