"""Observation and action spaces in the shape of Gymnasium's (which the
PettingZoo API uses), without depending on either: `.n` or `.shape` and
`.dtype`, `sample()`, `contains()`, `seed()`.

Samples come from a numpy Generator owned by the space, seeded (0 until
`seed(n)` is called; the environments seed their action spaces from the
reset seed), so a run that samples actions is reproducible.
"""
import numpy as np


class Space:
    def __init__(self, shape, dtype, seed=0):
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self._rng = np.random.default_rng(seed)

    def seed(self, seed=None):
        """Re-seeds the space's generator; returns [seed]."""
        self._rng = np.random.default_rng(seed)
        return [seed]

    def __contains__(self, x):
        return self.contains(x)


class Discrete(Space):
    """The integers 0 .. n-1 (an agent's actions: 0 DO_NOTHING, 1 its action)."""

    def __init__(self, n, seed=0):
        if int(n) < 1:
            raise ValueError(f"Discrete: n = {n}; allowed: n >= 1")
        super().__init__((), np.int64, seed)
        self.n = int(n)
        self.start = 0

    def sample(self):
        return np.int64(self._rng.integers(self.n))

    def contains(self, x):
        if isinstance(x, (bool, np.bool_)):
            return False
        if isinstance(x, (int, np.integer)):
            return 0 <= int(x) < self.n
        if isinstance(x, np.ndarray) and x.shape == () and np.issubdtype(x.dtype, np.integer):
            return 0 <= int(x) < self.n
        return False

    def __eq__(self, other):
        return isinstance(other, Discrete) and other.n == self.n

    def __repr__(self):
        return f"Discrete({self.n})"


class Box(Space):
    """Arrays of `shape` and `dtype` with every element in [low, high]."""

    def __init__(self, low, high, shape, dtype=np.float32, seed=0):
        super().__init__(shape, dtype, seed)
        self.low = np.full(self.shape, low, dtype=self.dtype)
        self.high = np.full(self.shape, high, dtype=self.dtype)

    def sample(self):
        return self._rng.uniform(self.low, self.high).astype(self.dtype)

    def contains(self, x):
        if not isinstance(x, np.ndarray) or x.shape != self.shape or x.dtype != self.dtype:
            return False
        return bool(np.all(np.isfinite(x)) and np.all(x >= self.low) and np.all(x <= self.high))

    def __eq__(self, other):
        return (isinstance(other, Box) and other.shape == self.shape and other.dtype == self.dtype
                and np.array_equal(other.low, self.low) and np.array_equal(other.high, self.high))

    def __repr__(self):
        return f"Box({self.low.min()}, {self.high.max()}, {self.shape}, {self.dtype})"
