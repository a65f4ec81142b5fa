"""A candidate space: checked spec, exact size, and a chunked stream of candidates in a stable order.

Stream order. Grid: by number of components, then element subsets in
lexicographic order of pool positions, then integer compositions in
lexicographic order. Samplers: draw order for the seed. Explicit list: list
order (duplicates after normalisation dropped). Descriptor windows filter the
stream; they are not part of ``size`` (``size_is_exact`` is then False and
``count()`` streams to count).
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import combinations, islice
from typing import Any

import numpy as np

from alloyscreen.candidates.chunk import CandidateChunk
from alloyscreen.candidates.grid import compositions_for, count_space
from alloyscreen.candidates.identity import canonical_composition, prototype_from_vec
from alloyscreen.candidates.sampling import SubsetSampler
from alloyscreen.candidates.spec import (
    PROTOTYPES,
    CandidateSpaceSpec,
    DirichletSampling,
    ExplicitList,
    GridSampling,
    SobolSampling,
)
from alloyscreen.descriptors import Compositions, featurize, parse_formula
from alloyscreen.descriptors.elementdata import atomic_numbers
from alloyscreen.descriptors.featurizer import check_columns
from alloyscreen.descriptors.hea import has_tabulated_vec
from alloyscreen.errors import AlloyscreenError

MAX_EXCLUDED_PAIRS = 10  # inclusion-exclusion over pairs costs 2**pairs counts
MAX_SUBSETS = 1_000_000  # allowed element subsets a sampler may choose from
MIN_ACCEPTANCE = 1e-4  # samplers: smallest fraction of draws meeting the bounds
_TOLERANCE = 1e-9


class CandidateSpace:
    """A checked candidate space; bad input raises AlloyscreenError before anything is produced.

    Parameters
    ----------
    spec : CandidateSpaceSpec or dict
        The ``candidates`` section of a campaign spec.
    """

    def __init__(self, spec: CandidateSpaceSpec | dict[str, Any]):
        self.spec = spec if isinstance(spec, CandidateSpaceSpec) else CandidateSpaceSpec.parse(spec)
        spec = self.spec
        explicit = self._parse_explicit(spec.sampling) if isinstance(spec.sampling, ExplicitList) else None
        pool = list(spec.elements) or sorted({e for comp in explicit or [] for e in comp})
        if not pool:
            raise AlloyscreenError("candidates.elements is empty; allowed: element symbols, e.g. [Pt, Pd, Fe]")
        atomic_numbers(pool)
        if len(set(pool)) != len(pool):
            raise AlloyscreenError(f"candidates.elements {pool} repeats an element; allowed: each element once")
        self.elements = tuple(pool)
        self._check_named_elements()
        self.active = [i for i, e in enumerate(pool) if e not in spec.excluded]
        self.n_components = self._n_components(explicit is not None)
        self.lower = np.array([spec.min_fraction.get(e, 0.0) for e in pool])
        self.upper = np.array([spec.max_fraction.get(e, 1.0) for e in pool])
        self._check_fractions()
        if spec.prototype not in PROTOTYPES:
            raise AlloyscreenError(f"candidates.prototype {spec.prototype!r}; allowed: {', '.join(PROTOTYPES)}")
        if spec.prototype == "auto":
            missing = [e for e in pool if e not in spec.excluded and not has_tabulated_vec(atomic_numbers([e]))[0]]
            if missing:
                raise AlloyscreenError(
                    f"candidates.prototype 'auto' needs the VEC of {missing[0]!r}, which is not tabulated; "
                    "allowed: fcc, bcc or hcp for this pool"
                )
        self.windows = {name: self.spec.windows[name] for name in check_columns(list(spec.windows))}
        self._explicit = None if explicit is None else self._filter_explicit(explicit)
        self.size = self._size()
        if self.size == 0:
            raise AlloyscreenError(
                "the constraints (bounds, required/excluded elements, n_components) leave the candidate space "
                "empty; allowed: constraints that some composition meets"
            )

    # ---- checks ---------------------------------------------------------------------------------
    @staticmethod
    def _parse_explicit(sampling: ExplicitList) -> list[dict[str, float]]:
        parsed = []
        for item in sampling.compositions:
            if isinstance(item, str):
                parsed.append(parse_formula(item))
                continue
            atomic_numbers(list(item))
            if not item or any(v < 0 for v in item.values()) or sum(item.values()) <= 0:
                raise AlloyscreenError(f"composition {item!r}; allowed: element -> amount >= 0, total > 0")
            total = sum(item.values())
            parsed.append({e: v / total for e, v in item.items() if v > 0})
        return parsed

    def _check_named_elements(self) -> None:
        spec = self.spec
        named = [*spec.min_fraction, *spec.max_fraction, *spec.required, *spec.excluded,
                 *(e for pair in spec.excluded_pairs for e in pair)]
        atomic_numbers(named)
        outside = [e for e in named if e not in self.elements]
        if outside:
            raise AlloyscreenError(f"element {outside[0]!r} is not in the pool; allowed: {', '.join(self.elements)}")
        both = set(spec.required) & set(spec.excluded)
        if both:
            raise AlloyscreenError(f"element {sorted(both)[0]!r} is both required and excluded; allowed: one of them")
        if len(spec.excluded_pairs) > MAX_EXCLUDED_PAIRS:
            raise AlloyscreenError(
                f"{len(spec.excluded_pairs)} excluded pairs; allowed: at most {MAX_EXCLUDED_PAIRS} (or excluded)"
            )

    def _n_components(self, explicit: bool) -> range:
        value = self.spec.n_components
        available = len(self.active)
        if value is None:
            if not explicit:
                raise AlloyscreenError(f"candidates.n_components is missing; allowed: 1..{available} or [min, max]")
            return range(1, available + 1)
        low, high = (value, value) if isinstance(value, int) else value
        if not 1 <= low <= high:
            raise AlloyscreenError(f"candidates.n_components {value!r}; allowed: 1..{available} or [min, max]")
        if high > available:
            raise AlloyscreenError(
                f"candidates.n_components {value!r} is more than the {available} elements available; "
                f"allowed: 1..{available}"
            )
        return range(low, high + 1)

    def _check_fractions(self) -> None:
        for name, values in (("min_fraction", self.spec.min_fraction), ("max_fraction", self.spec.max_fraction)):
            for element, value in values.items():
                if not 0.0 <= value <= 1.0:
                    raise AlloyscreenError(f"candidates.{name}.{element} = {value}; allowed: 0 <= fraction <= 1")
        if isinstance(self.spec.sampling, GridSampling):
            step = self.spec.sampling.step
            total = round(1.0 / step) if step > 0 else 0
            if total < 1 or abs(total * step - 1.0) > _TOLERANCE:
                raise AlloyscreenError(f"grid step {step}; allowed: a step that divides 1, e.g. 0.05 or 0.1")
            self.total = total

    # ---- size -----------------------------------------------------------------------------------
    @property
    def size_is_exact(self) -> bool:
        """``size`` is exact; False when descriptor windows may remove candidates (then an upper bound)."""
        return not self.windows

    def _grid_bounds(self) -> list[tuple[int, int]]:
        total = self.total
        low = np.maximum(np.ceil(self.lower * total - _TOLERANCE), 1).astype(int)
        high = np.minimum(np.floor(self.upper * total + _TOLERANCE), total).astype(int)
        return [(int(low[i]), int(high[i])) for i in self.active]

    def _size(self) -> int:
        sampling = self.spec.sampling
        if self._explicit is not None:
            return len(self._explicit)
        if isinstance(sampling, GridSampling):
            position = {pool_index: i for i, pool_index in enumerate(self.active)}
            index = {e: position[i] for i, e in enumerate(self.elements) if i in position}
            pairs = [(index[a], index[b]) for a, b in self.spec.excluded_pairs if a in index and b in index]
            required = [self.elements[i] in self.spec.required for i in self.active]
            return count_space(self._grid_bounds(), required, self.n_components, self.total, pairs)
        if not isinstance(sampling, DirichletSampling | SobolSampling):
            raise TypeError(f"unhandled sampling {sampling!r}")
        if sampling.n_samples < 1:
            raise AlloyscreenError(f"n_samples {sampling.n_samples}; allowed: an integer >= 1")
        if isinstance(sampling, DirichletSampling) and not sampling.alpha > 0:
            raise AlloyscreenError(f"dirichlet alpha {sampling.alpha}; allowed: alpha > 0")
        subsets = [s for s in islice(self._subsets(), MAX_SUBSETS + 1)
                   if self.lower[list(s)].sum() <= 1 + _TOLERANCE and self.upper[list(s)].sum() >= 1 - _TOLERANCE]
        if len(subsets) > MAX_SUBSETS:
            raise AlloyscreenError(
                f"more than {MAX_SUBSETS} element subsets to sample from; allowed: fewer elements or components"
            )
        if not subsets:
            return 0
        alpha = sampling.alpha if isinstance(sampling, DirichletSampling) else 1.0
        self._sampler = SubsetSampler(subsets, self.lower, self.upper, sampling.kind, sampling.seed, alpha)
        if self._sampler.acceptance() < MIN_ACCEPTANCE:
            raise AlloyscreenError(
                f"fewer than {MIN_ACCEPTANCE:g} of {sampling.kind} draws meet the fraction bounds; "
                "allowed: wider min_fraction/max_fraction, or a grid"
            )
        return sampling.n_samples

    def _subsets(self) -> Iterator[tuple[int, ...]]:
        """Yield allowed element subsets (pool positions), by size then lexicographically."""
        required = [self.elements.index(e) for e in self.spec.required]
        optional = [i for i in self.active if i not in required]
        pairs = [(self.elements.index(a), self.elements.index(b)) for a, b in self.spec.excluded_pairs]
        for k in self.n_components:
            if k < len(required):
                continue
            for chosen in combinations(optional, k - len(required)):
                subset = tuple(sorted((*required, *chosen)))
                if not any(a in subset and b in subset for a, b in pairs):
                    yield subset

    def _filter_explicit(self, parsed: list[dict[str, float]]) -> list[np.ndarray]:
        spec, kept, seen = self.spec, [], set()
        for comp in parsed:
            outside = [e for e in comp if e not in self.elements]
            if outside:
                raise AlloyscreenError(
                    f"element {outside[0]!r} of an explicit composition is not in the pool; "
                    f"allowed: {', '.join(self.elements)}"
                )
            ok = (len(comp) in self.n_components
                  and all(e in comp for e in spec.required)
                  and not any(e in comp for e in spec.excluded)
                  and not any(a in comp and b in comp for a, b in spec.excluded_pairs)
                  and all(self.lower[self.elements.index(e)] - _TOLERANCE <= f
                          <= self.upper[self.elements.index(e)] + _TOLERANCE for e, f in comp.items()))
            row = np.array([comp.get(e, 0.0) for e in self.elements])
            key = tuple(canonical_composition(self.elements, row).items())
            if ok and key not in seen:
                seen.add(key)
                kept.append(row)
        return kept

    # ---- stream ---------------------------------------------------------------------------------
    def _raw(self, chunk_size: int, start: int, stop: int | None) -> Iterator[np.ndarray]:
        """Yield dense fraction blocks of stream rows ``start:stop``, before windows.

        Grids and lists reach ``start`` directly; samplers draw the rows before it and drop them.
        """
        if self._explicit is not None:
            rows = self._explicit[start:stop]
            for first in range(0, len(rows), chunk_size):
                yield np.array(rows[first:first + chunk_size])
        elif isinstance(self.spec.sampling, GridSampling):
            blocks = self._grid_blocks(chunk_size, start)
            yield from blocks if stop is None else _head(blocks, stop - start)
        else:
            yield from _skip(self._sampler.draw(self.size if stop is None else stop), start)

    def _grid_blocks(self, chunk_size: int, skip: int) -> Iterator[np.ndarray]:
        """Yield the grid's dense blocks after its first ``skip`` rows (whole subsets passed over by count)."""
        bounds = dict(zip(self.active, self._grid_bounds(), strict=True))
        for subset in self._subsets():
            enumerator = compositions_for(tuple(bounds[i][0] for i in subset),
                                          tuple(bounds[i][1] for i in subset), self.total)
            if skip >= enumerator.count():
                skip -= enumerator.count()
                continue
            for block in enumerator.blocks(chunk_size, skip):
                dense = np.zeros((len(block), len(self.elements)))
                dense[:, subset] = block / self.total
                yield dense
            skip = 0

    def _finish(self, fractions: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """Apply descriptor windows and assign prototypes; return (fractions, prototypes, descriptors computed)."""
        auto = self.spec.prototype == "auto"
        columns = list(self.windows) + (["vec"] if auto else [])
        if not columns:
            return fractions, np.full(len(fractions), self.spec.prototype), {}
        table = featurize(Compositions.from_dense(self.elements, fractions), columns=columns)
        keep = np.ones(len(fractions), dtype=bool)
        for name, (low, high) in self.windows.items():
            values = table.column(name)
            if low is not None:
                keep &= values >= low
            if high is not None:
                keep &= values <= high
        prototypes = (prototype_from_vec(table.column("vec")[keep], self.spec.mixed_prototype) if auto
                      else np.full(int(keep.sum()), self.spec.prototype))
        return fractions[keep], prototypes, {name: table.values[keep, i] for i, name in enumerate(table.columns)}

    def iter_chunks(self, chunk_size: int = 65536, shard: tuple[int, int] = (0, 1)) -> Iterator[CandidateChunk]:
        """Yield the candidates in chunks of ``chunk_size`` rows (the last may be shorter).

        ``shard=(index, count)`` yields only that shard's chunks; the shards
        together give the whole stream, chunk for chunk. With an exact size a
        shard is a contiguous range of chunks reached without producing the
        rows before it (grids and lists by counting; samplers draw and drop
        them, without descriptors). With descriptor windows a position depends
        on every candidate before it, so each shard streams the whole space
        and keeps every ``count``-th chunk.
        """
        if chunk_size < 1:
            raise AlloyscreenError(f"chunk_size {chunk_size}; allowed: an integer >= 1")
        index, count = shard
        if not 0 <= index < count:
            raise AlloyscreenError(f"shard {index} of {count}; allowed: 0 <= shard < count")
        if not self.size_is_exact:
            for number, chunk in enumerate(self._chunks(chunk_size, 0, None)):
                if number % count == index:
                    yield chunk
            return
        chunks = -(-self.size // chunk_size)
        start = index * chunks // count * chunk_size
        stop = min((index + 1) * chunks // count * chunk_size, self.size)
        if start < stop:
            yield from self._chunks(chunk_size, start, stop)

    def _chunks(self, chunk_size: int, start: int, stop: int | None) -> Iterator[CandidateChunk]:
        """Yield the chunks of stream rows ``start:stop`` (``start`` on a chunk boundary)."""
        pending: list[CandidateChunk] = []  # rows made, not yet yielded
        held = 0
        for raw in self._raw(chunk_size, start, stop):
            fractions, prototypes, descriptors = self._finish(raw)
            made = CandidateChunk(self.elements, fractions, prototypes, descriptors=descriptors)
            if len(made):
                pending.append(made)
                held += len(made)
            while held >= chunk_size:
                joined = _joined(pending)
                yield _rows(joined, slice(0, chunk_size), start)
                start += chunk_size
                pending = [_rows(joined, slice(chunk_size, None), start)]
                held -= chunk_size
        if held:
            yield _rows(_joined(pending), slice(None), start)

    def count(self) -> int:
        """Return the number of candidates after windows, by streaming (``size`` when exact)."""
        return self.size if self.size_is_exact else sum(len(c) for c in self.iter_chunks())


def _joined(chunks: list[CandidateChunk]) -> CandidateChunk:
    """The rows of ``chunks`` in one chunk (their descriptors too)."""
    if len(chunks) == 1:
        return chunks[0]
    return CandidateChunk(chunks[0].elements, np.concatenate([c.fractions for c in chunks]),
                          np.concatenate([c.prototypes for c in chunks]), chunks[0].start,
                          {name: np.concatenate([c.descriptors[name] for c in chunks])
                           for name in chunks[0].descriptors})


def _rows(chunk: CandidateChunk, rows: slice, start: int) -> CandidateChunk:
    """Rows ``rows`` of ``chunk`` (with their descriptors), starting at stream position ``start``."""
    return CandidateChunk(chunk.elements, chunk.fractions[rows], chunk.prototypes[rows], start,
                          {name: values[rows] for name, values in chunk.descriptors.items()})


def _skip(blocks: Iterator[np.ndarray], rows: int) -> Iterator[np.ndarray]:
    """Yield ``blocks`` without their first ``rows`` rows."""
    for block in blocks:
        if rows < len(block):
            yield block[rows:]
        rows = max(rows - len(block), 0)


def _head(blocks: Iterator[np.ndarray], rows: int) -> Iterator[np.ndarray]:
    """Yield the first ``rows`` rows of ``blocks``, consuming no more blocks than needed."""
    for block in blocks:
        if rows <= 0:
            return
        yield block[:rows]
        rows -= len(block)
