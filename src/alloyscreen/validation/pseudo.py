"""Pseudopotential registry for Quantum ESPRESSO: element -> UPF file, read from the UPF headers.

One functional for all elements: a directory is scanned, every UPF header is
read (UPF v1 and v2), and an element is given the file of the requested
functional with, in order of preference, a scalar-relativistic (or
non-relativistic) calculation, suggested cutoffs in its header, and the lowest
suggested wavefunction cutoff. Explicit choices (``{"Fe": "Fe.pbe-....UPF"}``)
override the automatic ones; files of different functionals are refused.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from alloyscreen.errors import AlloyscreenError

DEFAULT_PSEUDO_DIR = "/usr/share/espresso/pseudo"
_FUNCTIONAL_TOKENS = {
    ("SLA", "PW", "PBX", "PBC"): "PBE",
    ("SLA", "PW", "PBE", "PBE"): "PBE",
    ("SLA", "PW", "PSX", "PSC"): "PBESOL",
    ("SLA", "PZ", "NOGX", "NOGC"): "PZ",
    ("SLA", "PZ"): "PZ",
    ("SLA", "B88", "LYP", "BLYP"): "BLYP",
}
_V2_HEADER = re.compile(r"<PP_HEADER\b([^>]*)>", re.S)
_V1_HEADER = re.compile(r"<PP_HEADER>(.*?)</PP_HEADER>", re.S)
_ATTRIBUTE = re.compile(r"(\w+)\s*=\s*\"([^\"]*)\"")
_SUGGESTED = re.compile(r"Suggested minimum cutoff for (wavefunctions|charge density):\s*([\d.]+)")


class PseudopotentialError(AlloyscreenError):
    """A pseudopotential is missing, unreadable or of another functional."""


class MissingPseudoDirectoryError(PseudopotentialError):
    """The pseudopotential directory does not exist (on this host)."""


@dataclass(frozen=True)
class Pseudopotential:
    """What the header of one UPF file says."""

    path: Path
    element: str
    functional: str
    pseudo_type: str
    relativistic: str
    z_valence: float
    wfc_cutoff: float
    rho_cutoff: float

    @property
    def norm_conserving(self) -> bool:
        """True for norm-conserving files (charge cutoff 4x the wavefunction cutoff)."""
        return self.pseudo_type.upper() in ("NC", "SL")


def normalise_functional(text: str) -> str:
    """Return a short name (PBE, PBESOL, PZ ...) for a UPF functional string."""
    tokens = tuple(text.upper().split())
    if len(tokens) == 1:
        return {"LDA": "PZ"}.get(tokens[0], tokens[0])
    for size in (4, 2):
        if tokens[:size] in _FUNCTIONAL_TOKENS:
            return _FUNCTIONAL_TOKENS[tokens[:size]]
    return " ".join(tokens)


def _header_v1(block: str) -> dict[str, str]:
    fields = {}
    for index, line in enumerate(block.strip().splitlines()):
        words = line.split()
        if "Element" in line:
            fields["element"] = words[0]
        elif index == 2:
            fields["pseudo_type"] = words[0]
        elif "Exchange-Correlation" in line:
            fields["functional"] = " ".join(words[:4])
        elif "Z valence" in line:
            fields["z_valence"] = words[0]
        elif "Suggested cutoff" in line:
            fields["wfc_cutoff"], fields["rho_cutoff"] = words[0], words[1]
    return fields


@lru_cache(maxsize=512)
def read_header(path: Path) -> Pseudopotential:
    """Parse the header of the UPF file ``path`` (v1 or v2)."""
    text = path.read_text(errors="replace")
    v1 = _V1_HEADER.search(text)
    v2 = None if v1 else _V2_HEADER.search(text)
    if v1 is not None:
        fields = _header_v1(v1.group(1))
    elif v2 is not None:
        fields = dict(_ATTRIBUTE.findall(v2.group(1)))
    else:
        raise PseudopotentialError(f"{path} has no PP_HEADER: not a UPF pseudopotential")
    info = dict(_SUGGESTED.findall(text.split("</PP_INFO>")[0]))
    relativistic = fields.get("relativistic") or ("full" if "Fully-Relativistic" in text[:20000] else "scalar")
    try:
        return Pseudopotential(
            path=path,
            element=fields["element"].strip().capitalize(),
            functional=normalise_functional(fields["functional"]),
            pseudo_type=fields.get("pseudo_type", "US").strip(),
            relativistic=relativistic,
            z_valence=float(fields["z_valence"]),
            wfc_cutoff=float(fields.get("wfc_cutoff") or info.get("wavefunctions") or 0.0),
            rho_cutoff=float(fields.get("rho_cutoff") or info.get("charge density") or 0.0),
        )
    except (KeyError, ValueError) as error:
        raise PseudopotentialError(f"cannot read the header of {path}: missing or bad {error}") from None


def file_sha256(path: Path) -> str:
    """Return the sha256 of a pseudopotential file: its identity wherever it lies."""
    status = Path(path).stat()
    return _sha256(str(path), status.st_mtime_ns, status.st_size)


@lru_cache(maxsize=512)
def _sha256(path: str, mtime_ns: int, size: int) -> str:
    """sha256 of ``path``, cached while its modification time and size stay the same."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@lru_cache(maxsize=16)
def scan_directory(directory: str) -> tuple[Pseudopotential, ...]:
    """Return the readable UPF files of ``directory`` (files that fail to parse are skipped)."""
    root = Path(directory)
    if not root.is_dir():
        raise MissingPseudoDirectoryError(f"pseudopotential directory {directory!r} does not exist")
    found = []
    for path in sorted(root.iterdir()):
        if path.is_file() and path.suffix.lower() in (".upf", ""):
            try:
                found.append(read_header(path))
            except (PseudopotentialError, UnicodeDecodeError, OSError):
                continue
    return tuple(found)


def _preference(pseudo: Pseudopotential) -> tuple:
    full = pseudo.relativistic.lower().startswith("full")
    has_cutoff = pseudo.wfc_cutoff > 0
    return (full, not has_cutoff, pseudo.wfc_cutoff, pseudo.path.name)


def select_pseudopotentials(
    elements: list[str], directory: str = DEFAULT_PSEUDO_DIR, functional: str = "PBE",
    explicit: dict[str, str] | None = None,
) -> dict[str, Pseudopotential]:
    """Return element -> pseudopotential for ``elements``, all of one ``functional``.

    Raises
    ------
    PseudopotentialError
        An element has no file of ``functional`` (the available elements are
        listed), or explicit files mix functionals.
    """
    available = scan_directory(str(directory))
    chosen = {}
    for element in sorted(set(elements)):
        if explicit and element in explicit:
            path = Path(directory) / explicit[element]
            if not path.is_file():
                raise PseudopotentialError(
                    f"pseudopotential {explicit[element]!r} for {element} not found in {directory}"
                )
            chosen[element] = read_header(path)
            continue
        matches = [p for p in available if p.element == element and p.functional == functional.upper()]
        if not matches:
            have = sorted({p.element for p in available if p.functional == functional.upper()})
            raise PseudopotentialError(
                f"no {functional} pseudopotential for {element} in {directory}; available: {', '.join(have)}"
            )
        chosen[element] = min(matches, key=_preference)
    functionals = {p.functional for p in chosen.values()}
    if len(functionals) > 1:
        detail = ", ".join(f"{el}: {p.path.name} ({p.functional})" for el, p in chosen.items())
        raise PseudopotentialError(f"pseudopotentials mix functionals {sorted(functionals)}: {detail}; use one")
    return chosen


def suggested_cutoffs(pseudos: dict[str, Pseudopotential], fallback_wfc: float = 40.0) -> tuple[float, float]:
    """Return (ecutwfc, ecutrho) in Ry: the largest suggested values, or defaults where headers say nothing."""
    wfc = max([p.wfc_cutoff for p in pseudos.values()] + [0.0]) or fallback_wfc
    rho = max([4.0 * wfc] + [p.rho_cutoff or (4.0 if p.norm_conserving else 8.0) * wfc for p in pseudos.values()])
    return float(round(wfc, 1)), float(round(rho, 1))
