"""The api document's links (OpenAPI ``links``): which answer feeds which request.

* every keyset-paged list: its ``next`` is the ``cursor`` of its next page (with the same
  path parameters); a cursor is opaque, so a client never makes one up;
* a list's first item names it for the item's own routes (a station, its reports, a
  report's evidence, a breach's events, a webhook's deliveries), as does a new webhook's id.
"""
from __future__ import annotations

from typing import Any

from services.api.deps import CURSOR

WEBHOOK = "/v1/webhooks/{webhook_id}"
STATION = "/v1/stations/{station_id}"
EVENT = "/v1/events/{event_id}"
ITEMS: dict[tuple[str, str, str], dict[str, tuple[str, str, str]]] = {
    # (method, path, status) of the answer: link name -> (method, path, JSON pointer)
    ("get", "/v1/stations", "200"): {
        "station": ("get", STATION, "/stations/0/station_id"),
        "timeline": ("get", f"{STATION}/timeline", "/stations/0/station_id"),
        "incidents": ("get", f"{STATION}/incidents", "/stations/0/station_id")},
    ("get", f"{STATION}/timeline", "200"): {
        "event": ("get", EVENT, "/events/0/event_id")},
    ("get", "/v1/triage", "200"): {"event": ("get", EVENT, "/reports/0/event_id")},
    ("get", EVENT, "200"): {
        "evidence": ("get", "/v1/evidence/{sha256}", "/evidence_files/0/sha256")},
    ("get", "/v1/breaches", "200"): {
        "events": ("get", "/v1/breaches/{breach_id}/events", "/breaches/0/breach_id")},
    ("get", "/v1/webhooks", "200"): {
        "deliveries": ("get", f"{WEBHOOK}/deliveries", "/webhooks/0/id"),
        "unsubscribe": ("delete", WEBHOOK, "/webhooks/0/id")},
    ("post", "/v1/webhooks", "201"): {
        "deliveries": ("get", f"{WEBHOOK}/deliveries", "/id"),
        "unsubscribe": ("delete", WEBHOOK, "/id")},
}


def operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(method, path): operation for path, methods in document["paths"].items()
            for method, operation in methods.items()}


def is_page(operation: dict[str, Any]) -> bool:
    return any(p["name"] == "cursor" and p["schema"].get("anyOf", [{}])[0].get("pattern")
               == CURSOR for p in operation.get("parameters", ()))


def path_parameter(path: str) -> str:
    return path.split("{", 1)[1].split("}", 1)[0]


def add_links(document: dict[str, Any]) -> None:
    """Add the links to ``document`` (FastAPI's, before ``refine``)."""
    found = operations(document)
    for operation in found.values():
        if not is_page(operation):
            continue
        same_path = {p["name"]: f"$request.path.{p['name']}"
                     for p in operation["parameters"] if p["in"] == "path"}
        operation["responses"]["200"].setdefault("links", {})["next"] = {
            "operationId": operation["operationId"],
            "description": "the next page (there is none when `next` is null)",
            "parameters": {**same_path, "cursor": "$response.body#/next"}}
    for (method, path, status), links in ITEMS.items():
        answer = found[(method, path)]["responses"][status].setdefault("links", {})
        for name, (to_method, to_path, pointer) in links.items():
            answer[name] = {"operationId": found[(to_method, to_path)]["operationId"],
                            "parameters": {path_parameter(to_path): f"$response.body#{pointer}"}}
