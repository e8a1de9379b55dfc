"""The built-in papers' claims, one module per paper, one Claim per theorem.

This package is a jaxmem plugin like any user's (entry-point group `jaxmem.plugins`): importing
it imports each paper's module, and each module registers its claims with
`jaxmem.claims.register`. `jaxmem verify` runs them in this order.
"""

from . import (  # noqa: F401 (imported for their registrations)
    zhang2017, bubeck2020, precision, genzel2023, yu2024, yu2024_width, gd_width, lazy,
    zhang2017_random_labels, arpit2017, yu2024_width6, park2021, yu2024_hardness,
    separability, yun2019,
)
