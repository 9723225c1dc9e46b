"""The quick count of the demo feed (10 January 2021): synthetic stations, a drawn sample,
observers' reports from the sampled stations, and the CEC's preliminary announcement.

The CEC announced a preliminary turnout of 63.3 % and Nur Otan 71.09 %, Ak Zhol 10.95 %,
People's Party 9.10 %, Auyl 5.29 %, Adal 3.57 % (seed 003). The stations and the observers'
figures here are synthetic (turnout around 46 %, the issue's illustration), so the demo shows
the national turnout discrepancy; the synthetic shares follow the announced ones.
Event ids derive from the content, so running the demo again posts duplicates, not new facts.
"""
from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any
from uuid import NAMESPACE_URL, uuid5

ELECTION = "kz-2021-01-10"
SEED = 20210110
"""The public seed of the demo draw (the election date)."""
SIZE = 120
REGIONS = {"Almaty": 0.39, "Nur-Sultan": 0.42, "Shymkent": 0.52, "Karaganda": 0.47,
           "North Kazakhstan": 0.50, "West Kazakhstan": 0.44, "Aktobe": 0.48,
           "Turkistan": 0.55}
STATIONS_PER_REGION = 50
CENTRES = {"Almaty": (76.92, 43.25, 0.06), "Nur-Sultan": (71.45, 51.17, 0.05),
           "Shymkent": (69.59, 42.32, 0.05), "Karaganda": (73.10, 49.80, 0.6),
           "North Kazakhstan": (69.9, 54.3, 0.4), "West Kazakhstan": (51.37, 51.23, 0.7),
           "Aktobe": (57.17, 50.28, 0.7), "Turkistan": (68.25, 43.30, 0.6)}
"""Where each region's synthetic stations stand, for the map: (lon, lat) of its centre and
the spread in degrees (a city's stations close together, a region's spread over it)."""
OFFICIAL_SHARES = {"Nur Otan": 71.09, "Ak Zhol": 10.95, "People's Party of Kazakhstan": 9.10,
                   "Auyl": 5.29, "Adal": 3.57}
NAMESPACE = uuid5(NAMESPACE_URL, "https://saylau.watch/demo/quickcount")


def _id(*parts: object) -> str:
    return str(uuid5(NAMESPACE, "|".join(map(str, parts))))


def _event(type_: str, payload: dict[str, Any], occurred_at: str, key: str,
           **fields: Any) -> dict[str, Any]:
    return {"event_id": _id(type_, key), "type": type_, "schema_version": 1,
            "occurred_at": occurred_at, "source": "demo-quickcount", "payload": payload,
            **fields}


def stations() -> list[dict[str, Any]]:
    """400 synthetic stations in eight regions, as ``station.registered`` events, each with
    coordinates (the dashboard map draws them)."""
    rng, where, events = random.Random(3), random.Random(4), []
    for r, region in enumerate(REGIONS):
        lon, lat, spread = CENTRES[region]
        for i in range(STATIONS_PER_REGION):
            station_id = f"QC-{r + 1:02d}-{i + 1:03d}"
            events.append(_event("station.registered", {
                "number": 1000 * (r + 1) + i + 1, "address": f"School No. {i + 1}",
                "region": region, "registered_voters": rng.randint(600, 2600),
                "lat": round(where.gauss(lat, spread / 2), 5),
                "lon": round(where.gauss(lon, spread), 5)},
                "2021-01-05T10:00:00+06:00", station_id, station_id=station_id,
                place={"region": region}))
    return events


def station_reports(station: dict[str, Any]) -> list[dict[str, Any]]:
    """An observer's noon and 18:00 counts and the protocol at one sampled station."""
    station_id, p = station["station_id"], station["payload"]
    rng = random.Random(station_id)
    voters = round(p["registered_voters"] * min(0.9, max(0.15, rng.gauss(REGIONS[p["region"]],
                                                                         0.07))))
    where = {"station_id": station_id, "place": {"region": p["region"]}}
    invalid = rng.randint(0, voters // 50)
    return [
        _event("turnout.reported", {"hour": 12, "voters": round(voters * 0.55)},
               "2021-01-10T12:05:00+06:00", f"{station_id}|12", **where),
        _event("turnout.reported", {"hour": 18, "voters": voters},
               "2021-01-10T18:05:00+06:00", f"{station_id}|18", **where),
        _event("protocol.reported", {
            "voters_on_list": p["registered_voters"], "ballots_issued": voters,
            "ballots_cast": voters, "invalid_ballots": invalid,
            "votes": split(rng, voters - invalid)}, "2021-01-10T22:30:00+06:00",
            f"{station_id}|protocol", **where),
    ]


def split(rng: random.Random, valid: int) -> dict[str, int]:
    """Valid votes shared out around the announced shares."""
    weights = {name: share * rng.uniform(0.8, 1.2) for name, share in OFFICIAL_SHARES.items()}
    total = sum(weights.values())
    votes = {name: round(valid * w / total) for name, w in weights.items()}
    votes["Nur Otan"] += valid - sum(votes.values())
    return votes


def announcement() -> dict[str, Any]:
    """The CEC's preliminary results (seed 003): turnout 63.3 % and the party shares."""
    return _event("official.results_announced", {
        "level": "national", "turnout_percent": 63.3, "shares": OFFICIAL_SHARES,
        "source": "CEC preliminary results, briefing of 11 January 2021 (seed 003)"},
        "2021-01-11T10:00:00+06:00", "national", election_id=ELECTION)


def chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
