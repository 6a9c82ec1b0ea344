"""`--shard K/N`: split the materials of a bake into N disjoint parts.

A material belongs to shard 1 + (sha256(key) mod N), where key is its path
under the bake's root (the same key that names its output folder). The choice
depends on the key alone, not on its position in a listing, so adding or
removing a material moves no other material to another shard, and every
runner of a CI matrix agrees on the split without talking to the others.
"""

from __future__ import annotations

import hashlib

from ..errors import ConfigError


def parse(text: str) -> tuple[int, int]:
    """'K/N' -> (K, N), 1 <= K <= N."""
    k, sep, n = str(text).partition("/")
    try:
        if not sep:
            raise ValueError
        k_i, n_i = int(k), int(n)
    except ValueError:
        raise ConfigError(f"--shard: expected K/N such as 2/4, got {text!r}") from None
    if not 1 <= k_i <= n_i:
        raise ConfigError(f"--shard: K must be in 1..N, got {text!r}")
    return k_i, n_i


def shard_of(key: str, count: int) -> int:
    """The 1-based shard of a material key among `count` shards."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return 1 + int.from_bytes(digest[:8], "big") % count


def select(sources: list, shard: tuple[int, int] | None) -> list:
    if shard is None:
        return list(sources)
    k, n = shard
    return [s for s in sources if shard_of(s.key, n) == k]
