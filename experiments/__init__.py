"""The built-in papers' experiments: one module per figure or table that `jaxmem reproduce`
regenerates (what an experiment declares: jaxmem.experiment).

This package is a jaxmem plugin like any user's (entry-point group `jaxmem.plugins`): importing
it imports each module, and each registers itself with `register_experiment(__name__)`.
`jaxmem reproduce --list` shows them in this order.
"""

from . import (  # noqa: F401 (imported for their registrations)
    precision, genzel2023_moons, genzel2023_authors, genzel2023_size, genzel2023_illustrations, genzel2023_real,
    yu2024_tables, yu2024_table3, yu2024_table4, yu2024_width, gd_min_width, information_plane,
    zhang2017_randomization, arpit2017, cover_capacity,
)
