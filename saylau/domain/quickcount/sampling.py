"""Drawing the quick-count sample: stratified by region, proportional to registered voters.

Design. The frame is every registered station with at least one registered voter; strata are
regions. The sample size is allocated to strata in proportion to their registered voters
(Hamilton's largest-remainder rounding, exact in rational arithmetic), with at least one
station per stratum when the size allows and never more than a stratum's stations. Within a
stratum, stations are drawn by simple random sampling without replacement.

Randomness. Within a stratum the frame is sorted by station id and shuffled by a partial
Fisher–Yates shuffle (Knuth, TAOCP vol. 2, §3.4.2, Algorithm P): step ``k`` swaps position
``k`` with position ``k + r_k mod (N_h − k)``, where ``r_k`` is ``SHA-256("<seed>:<region>:<k>")``
read as a big-endian integer; the first ``n_h`` stations are the sample, a simple random sample
without replacement (the modulo bias is below 2⁻²⁰⁰). Unlike ``random.Random`` (whose
``sample`` algorithm Python does not promise to keep), this is stable across Python versions
and re-computable by anyone, in any language, from the frame and the seed.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any
from uuid import NAMESPACE_URL, uuid5

METHOD = "stratified-proportional-srswor-sha256-v1"
MAX_SEED = 2 ** 53 - 1
"""Seeds stay exact in JSON numbers."""
SAMPLE_NAMESPACE = uuid5(NAMESPACE_URL, "https://saylau.watch/quickcount/samples")


@dataclass(frozen=True)
class FrameStation:
    """A registered station as the registry held it when the sample was drawn."""

    station_id: str
    region: str
    registered_voters: int


@dataclass(frozen=True)
class Stratum:
    """One region of the design: ``frame`` stations holding ``registered_voters``, ``sampled`` drawn."""

    region: str
    frame: int
    registered_voters: int
    station_ids: tuple[str, ...]

    @property
    def sampled(self) -> int:
        return len(self.station_ids)


@dataclass(frozen=True)
class Sample:
    """A drawn sample: everything needed to estimate from it and to re-draw it."""

    sample_id: str
    election_id: str
    method: str
    seed: int
    size: int
    frame_hash: str
    drawn_at: datetime
    strata: tuple[Stratum, ...]

    @property
    def station_ids(self) -> tuple[str, ...]:
        return tuple(sorted(s for stratum in self.strata for s in stratum.station_ids))

    def region_of(self) -> dict[str, str]:
        """Each sampled station's stratum (its region at the time of the draw)."""
        return {s: stratum.region for stratum in self.strata for s in stratum.station_ids}

    def payload(self) -> dict[str, Any]:
        """The ``sample.drawn`` event payload."""
        return {"sample_id": self.sample_id, "election_id": self.election_id,
                "method": self.method, "seed": self.seed, "size": self.size,
                "frame_hash": self.frame_hash, "drawn_at": self.drawn_at.isoformat(),
                "strata": [{"region": s.region, "frame": s.frame,
                            "registered_voters": s.registered_voters, "sampled": s.sampled,
                            "station_ids": list(s.station_ids)} for s in self.strata]}

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Sample:
        """The sample a ``sample.drawn`` payload describes."""
        strata = tuple(Stratum(s["region"], s["frame"], s["registered_voters"],
                               tuple(s["station_ids"])) for s in payload["strata"])
        return cls(payload["sample_id"], payload["election_id"], payload["method"],
                   payload["seed"], payload["size"], payload["frame_hash"],
                   datetime.fromisoformat(payload["drawn_at"]), strata)


def replacement_refused(election_id: str, replaces: str | None,
                        current: str | None) -> str | None:
    """Why a ``sample.drawn`` for ``election_id`` may not be appended, else None.

    The latest sample of an election is the one estimates use, so a draw that would replace
    the election's ``current`` sample must say so by naming it (``replaces``): a second draw
    never silently becomes the sample (an admin trying seeds until the sample suits them
    would leave a trail of named replacements). Naming another sample than the current one
    (someone drew meanwhile) or one the election does not have is refused too.
    """
    if replaces == current:
        return None
    if current is None:
        return (f"election {election_id!r} has no sample for this one to replace "
                f"(replaces names {replaces!r}); leave replaces out")
    instead = "" if replaces is None else f", not {replaces!r} (replaces)"
    return (f"election {election_id!r} already has sample {current}{instead}; a sample that "
            f"replaces it must name it: send \"replaces\": {json.dumps(current)} (both stay "
            "in the log)")


def current_draw(draws: Sequence[tuple[str, str | None]]) -> int:
    """Of an election's samples as ``(sample_id, replaces)`` in log-time order (occurred_at,
    then event id), the position of the one estimates use: the latest that no other sample
    replaces, so the replacement ingest accepted is the sample whatever its date (the latest
    of all when every one is replaced, in a log ingest did not check)."""
    replaced = {r for _, r in draws if r}
    heads = [i for i, (sample_id, _) in enumerate(draws) if sample_id not in replaced]
    return heads[-1] if heads else len(draws) - 1


def eligible(frame: Iterable[FrameStation]) -> list[FrameStation]:
    """The sampling frame: stations with registered voters, sorted by id (one per id)."""
    by_id = {s.station_id: s for s in frame if s.registered_voters > 0}
    return [by_id[key] for key in sorted(by_id)]


def frame_hash(frame: Iterable[FrameStation]) -> str:
    """SHA-256 of the canonical frame: UTF-8 JSON ``[[station_id, region, registered_voters],
    …]`` sorted by station id, no whitespace, non-ASCII unescaped."""
    return _digest(eligible(frame))


def _digest(stations: Sequence[FrameStation]) -> str:
    rows = [[s.station_id, s.region, s.registered_voters] for s in stations]
    text = json.dumps(rows, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def shuffle_step(seed: int, region: str, k: int, remaining: int) -> int:
    """The offset (0 ≤ r < ``remaining``) step ``k`` of the stratum's shuffle swaps in."""
    digest = hashlib.sha256(f"{seed}:{region}:{k}".encode()).digest()
    return int.from_bytes(digest, "big") % remaining


def allocate(strata: Mapping[str, tuple[int, int]], size: int) -> dict[str, int]:
    """Sample size per stratum from ``{region: (stations, registered_voters)}``.

    Proportional to registered voters, rounded by largest remainder (ties: more voters, then
    region name). Strata whose quota falls below one get one station (if ``size`` is at least
    the number of strata) and strata whose quota exceeds their stations get all of them; the
    rest is re-allocated proportionally among the others until no bound binds.
    """
    n = min(size, sum(count for count, _ in strata.values()))
    floor = 1 if n >= len(strata) else 0
    fixed: dict[str, int] = {}
    while True:
        free = {h: v for h, v in strata.items() if h not in fixed}
        quotas = _quotas(free, n - sum(fixed.values()))
        over = {h: free[h][0] for h, q in quotas.items() if q > free[h][0]}
        under = {h: floor for h, q in quotas.items() if q < floor}
        if not (over or under):
            return {**fixed, **_largest_remainder(quotas, strata)}
        fixed.update(over or under)


def _quotas(strata: Mapping[str, tuple[int, int]], budget: int) -> dict[str, Fraction]:
    weight = sum(voters for _, voters in strata.values())
    return {h: Fraction(budget * voters, weight) for h, (_, voters) in strata.items()}


def _largest_remainder(quotas: Mapping[str, Fraction],
                       strata: Mapping[str, tuple[int, int]]) -> dict[str, int]:
    counts = {h: int(q) for h, q in quotas.items()}
    left = int(sum(quotas.values())) - sum(counts.values())
    order = sorted(quotas, key=lambda h: (-(quotas[h] - counts[h]), -strata[h][1], h))
    for h in order[:left]:
        counts[h] += 1
    return counts


def draw_sample(frame: Iterable[FrameStation], size: int, seed: int, *, election_id: str,
                drawn_at: datetime, sample_id: str | None = None) -> Sample:
    """Draw the stratified sample of ``size`` stations from ``frame`` with ``seed``.

    ``sample_id`` defaults to a UUID derived from the election, seed, size, frame hash and
    time, so drawing the same thing twice names it the same.
    """
    if size < 1:
        raise ValueError("size must be at least 1")
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be an integer from 0 to {MAX_SEED}")
    if drawn_at.tzinfo is None:
        raise ValueError("drawn_at needs a UTC offset")
    stations = eligible(frame)
    if not stations:
        raise ValueError("the frame has no station with registered voters")
    by_region: dict[str, list[FrameStation]] = {}
    for station in stations:
        by_region.setdefault(station.region, []).append(station)
    design = {r: (len(s), sum(x.registered_voters for x in s)) for r, s in by_region.items()}
    sizes = allocate(design, size)
    strata = tuple(_stratum(region, by_region[region], design[region][1], sizes[region], seed)
                   for region in sorted(by_region))
    digest = _digest(stations)
    sample_id = sample_id or str(uuid5(SAMPLE_NAMESPACE, "|".join(
        [election_id, str(seed), str(size), digest, drawn_at.isoformat()])))
    return Sample(sample_id, election_id, METHOD, seed, size, digest, drawn_at, strata)


def _stratum(region: str, stations: Sequence[FrameStation], voters: int, n: int,
             seed: int) -> Stratum:
    order = [s.station_id for s in stations]
    for k in range(n):
        j = k + shuffle_step(seed, region, k, len(order) - k)
        order[k], order[j] = order[j], order[k]
    return Stratum(region, len(stations), voters, tuple(sorted(order[:n])))


@dataclass(frozen=True)
class SampleCheck:
    """The outcome of re-drawing a sample: ``ok`` only if frame and stations match."""

    ok: bool
    frame_hash_matches: bool
    allocation_matches: bool
    missing: tuple[str, ...]
    """Stations the re-draw picks that the sample lacks."""
    extra: tuple[str, ...]
    """Stations in the sample the re-draw does not pick (picked by hand?)."""


def verify_sample(frame: Iterable[FrameStation], sample: Sample) -> SampleCheck:
    """Re-draw ``sample`` from ``frame`` (the registry as the log held it at ``drawn_at``)."""
    if sample.method != METHOD:
        raise ValueError(f"unknown sampling method {sample.method!r}")
    redrawn = draw_sample(frame, sample.size, sample.seed, election_id=sample.election_id,
                          drawn_at=sample.drawn_at, sample_id=sample.sample_id)
    wanted, held = set(redrawn.station_ids), set(sample.station_ids)
    design = [(s.region, s.frame, s.registered_voters, s.sampled) for s in sample.strata]
    allocation = design == [(s.region, s.frame, s.registered_voters, s.sampled)
                            for s in redrawn.strata]
    hash_ok = redrawn.frame_hash == sample.frame_hash
    return SampleCheck(hash_ok and allocation and wanted == held, hash_ok, allocation,
                       tuple(sorted(wanted - held)), tuple(sorted(held - wanted)))
