"""Synthetic sorting tasks: `x1..xn SEP y1..yn`, where y is x sorted by a task's order of the symbols.

The base task sorts by the symbols' natural order (0 < 1 < … < V-1); the adaptation task sorts by a
fixed secret permutation of that order. Symbols are drawn with replacement, so outputs repeat symbols.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class SortTask:
    """Sort `length` symbols from `n_symbols` by `order` (order[s] is symbol s's rank)."""

    n_symbols: int
    length: int
    order: tuple[int, ...]

    @property
    def sep(self) -> int:
        return self.n_symbols

    @property
    def vocab_size(self) -> int:
        return self.n_symbols + 1

    @property
    def seq_len(self) -> int:
        return 2 * self.length + 1

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """`n` full sequences (n × seq_len): input, SEP, sorted output."""
        x = torch.randint(0, self.n_symbols, (n, self.length), generator=generator)
        keys = torch.tensor(self.order)[x]
        y = torch.gather(x, 1, keys.argsort(dim=1, stable=True))
        sep = torch.full((n, 1), self.sep, dtype=torch.long)
        return torch.cat([x, sep, y], dim=1)


def natural_sort(n_symbols: int, length: int) -> SortTask:
    return SortTask(n_symbols, length, tuple(range(n_symbols)))


def secret_sort(n_symbols: int, length: int, seed: int) -> SortTask:
    """Sorting by a random permutation of the symbols, fixed by `seed`."""
    g = torch.Generator().manual_seed(seed)
    return SortTask(n_symbols, length, tuple(torch.randperm(n_symbols, generator=g).tolist()))
