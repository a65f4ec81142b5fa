"""Content hashes: canonical JSON -> sha256, the one id scheme of the project."""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import numpy as np

FLOAT_DIGITS = 10


def _canonical(value: Any) -> Any:
    """Return ``value`` as plain JSON types with floats rounded and keys sorted."""
    if hasattr(value, "model_dump"):
        return _canonical(value.model_dump(mode="json"))
    if hasattr(value, "as_dict"):
        return _canonical(value.as_dict())
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, np.ndarray):
        return _canonical(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if not math.isfinite(number):
            return str(number)
        rounded = round(number, FLOAT_DIGITS)
        return int(rounded) if rounded == int(rounded) else rounded
    return value


def canonical_json(value: Any) -> str:
    """Serialise ``value`` to canonical JSON (sorted keys, no spaces, rounded floats)."""
    return json.dumps(_canonical(value), sort_keys=True, separators=(",", ":"))


def content_hash(value: Any, length: int = 24) -> str:
    """Return the sha256 of the canonical JSON of ``value``, as ``length`` hex digits."""
    digest = hashlib.sha256(canonical_json(value).encode()).hexdigest()
    return digest[:length]
