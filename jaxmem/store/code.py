"""A store as seen by code that writes its own records (an experiment's `compute`), with the
same rule for records of other code as `jaxmem.sweep.run_sweep`: runs record their code, and
records of other code are never reused silently.

`CodeAwareStore(store, provenance, other_code)` forwards everything to `store`, and:
  begin_run    records `provenance` (jaxmem.provenance.provenance) on the run;
  add_configs  "stop": raises OtherCodeError when the store holds records of these configs
               that other code computed (naming both fingerprints); "accept": reuses them
               and records on the run whose records it accepted; "recompute": keys each
               config with the code fingerprint (its JSON gains "code"), so the run computes
               its records afresh and the old run stays readable;
  done_indices, write_columns, write_records, record_code, columns, claim_block(s): under
               the same keys.
"""

from __future__ import annotations

import json

from jaxmem import provenance as provenance_mod


class OtherCodeError(ValueError):
    """The store holds records of these configs that other code computed."""


def other_code_message(name: str, found: dict, current: str) -> str:
    theirs = ", ".join(
        f"{provenance_mod.short(fp)} ({n} records)"
        for fp, n in sorted(found.items(), key=lambda kv: str(kv[0]))
    )
    return (
        f"the store holds records of {name!r} computed by other code ({theirs}) than the "
        f"current code ({provenance_mod.short(current)}); --recompute computes them under "
        f"the current code (the old run stays readable), --accept-old-records reuses them "
        f"(recorded on the run)"
    )


class CodeAwareStore:
    def __init__(self, store, provenance: dict, other_code: str = "stop"):
        if other_code not in ("stop", "recompute", "accept"):
            raise ValueError(f"other_code must be stop, recompute or accept; got {other_code!r}")
        self._store, self._code, self._mode = store, provenance, other_code
        self._keys: dict[str, str] = {}
        self._names: dict[int, str] = {}

    def __getattr__(self, name):
        return getattr(self._store, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self._store.__exit__(*exc)

    @property
    def fingerprint(self) -> str:
        return self._code["code_fingerprint"]

    def _key(self, h: str) -> str:
        return self._keys.get(h, h)

    def begin_run(self, **kwargs) -> int:
        run_id = self._store.begin_run(**{**kwargs, "provenance": self._code})
        self._names[run_id] = kwargs.get("sweep", "?")
        return run_id

    def add_configs(self, run_id: int, configs) -> None:
        configs = [(str(h), str(j), int(n)) for h, j, n in configs]
        if self._mode == "recompute":
            from jaxmem.sweep.keys import canonical_json, config_hash

            keyed = []
            for h, j, n in configs:
                config = json.loads(j)
                config = dict(
                    config if isinstance(config, dict) else {"config": config},
                    code=self.fingerprint,
                )
                self._keys[h] = config_hash(config)
                keyed.append((self._keys[h], canonical_json(config), n))
            return self._store.add_configs(run_id, keyed)
        found: dict = {}
        for h, _, n in configs:
            for fp, count in self._store.record_code(h, n).items():
                if fp != self.fingerprint:
                    found[fp] = found.get(fp, 0) + count
        if found and self._mode == "stop":
            raise OtherCodeError(
                other_code_message(self._names.get(run_id, "?"), found, self.fingerprint)
            )
        if found:
            self._store.accept_code(run_id, [fp or "unknown" for fp in found])
        return self._store.add_configs(run_id, configs)

    def done_indices(self, config_hash: str, stop: int):
        return self._store.done_indices(self._key(config_hash), stop)

    def write_columns(self, run_id, config_hash, *args, **kwargs):
        return self._store.write_columns(run_id, self._key(config_hash), *args, **kwargs)

    def write_records(self, run_id, config_hash, *args, **kwargs):
        return self._store.write_records(run_id, self._key(config_hash), *args, **kwargs)

    def record_code(self, config_hash: str, stop: int) -> dict:
        return self._store.record_code(self._key(config_hash), stop)

    def columns(self, config_hash: str, start: int, stop: int) -> dict:
        return self._store.columns(self._key(config_hash), start, stop)

    def claim_blocks(self, config_hash: str, *args, **kwargs):
        return self._store.claim_blocks(self._key(config_hash), *args, **kwargs)

    def claim_block(self, config_hash: str, *args, **kwargs):
        return self._store.claim_block(self._key(config_hash), *args, **kwargs)


__all__ = ["CodeAwareStore", "OtherCodeError", "other_code_message"]
