"""The event catalogue: one JSON Schema per type and version under schemas/events/.

Adding an event type is a schema file (plus, if it moves a read model, a projection rule);
nothing else in the code needs to know the type exists.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, ValidationError

from saylau.domain.fields import Path as FieldPath
from saylau.domain.fields import accepting_sealed, free_text_paths, personal_paths

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas" / "events"


@dataclass(frozen=True)
class FieldError:
    """A validation problem at a JSON path, as the API reports it."""

    loc: tuple[str | int, ...]
    msg: str

    def as_dict(self) -> dict[str, Any]:
        return {"loc": list(self.loc), "msg": self.msg}


class Catalogue:
    """Known event types and their payload validators."""

    def __init__(self, schema_dir: Path = SCHEMA_DIR) -> None:
        self._validators: dict[tuple[str, int], Draft202012Validator] = {}
        self.schemas: dict[tuple[str, int], dict[str, Any]] = {}
        self.personal: dict[tuple[str, int], tuple[FieldPath, ...]] = {}
        self.free_text: dict[tuple[str, int], tuple[FieldPath, ...]] = {}
        for path in sorted(schema_dir.glob("*.v*.json")):
            type_name, _, version = path.name.removesuffix(".json").rpartition(".v")
            written = json.loads(path.read_text())
            self.personal[(type_name, int(version))] = personal_paths(written)
            self.free_text[(type_name, int(version))] = free_text_paths(written)
            schema = accepting_sealed(written)
            Draft202012Validator.check_schema(schema)
            self.schemas[(type_name, int(version))] = schema
            self._validators[(type_name, int(version))] = Draft202012Validator(schema)
        self._latest = {name: max(v for n, v in self._validators if n == name)
                        for name, _ in self._validators}

    @property
    def types(self) -> list[str]:
        return sorted(self._latest)

    def latest_version(self, type_name: str) -> int:
        return self._latest[type_name]

    def scope(self, type_name: str) -> str:
        """Where events of this type happen: station, place, campaign, report or registry."""
        schema = self.schemas.get((type_name, self._latest.get(type_name, 0)), {})
        return str(schema.get("x-saylau", {}).get("scope", "place"))

    def personal_paths(self, type_name: str, version: int | None = None
                       ) -> tuple[FieldPath, ...]:
        """Where names sit in payloads of this type (``x-personal`` in its schema); every
        version's paths when ``version`` is None."""
        if version is not None:
            return self.personal.get((type_name, version), ())
        return tuple(dict.fromkeys(path for (name, _), paths in sorted(self.personal.items())
                                   if name == type_name for path in paths))

    def free_text_paths(self, type_name: str, version: int | None = None
                        ) -> tuple[FieldPath, ...]:
        """Where people write in their own words (``x-free-text``): sealed like names, found
        by decrypting; every version's paths when ``version`` is None."""
        if version is not None:
            return self.free_text.get((type_name, version), ())
        return tuple(dict.fromkeys(path for (name, _), paths in sorted(self.free_text.items())
                                   if name == type_name for path in paths))

    def validate(self, type_name: str, version: int, payload: Any) -> list[FieldError]:
        """Errors of ``payload`` against its type's schema; empty when valid."""
        validator = self._validators.get((type_name, version))
        if validator is None:
            if any(name == type_name for name, _ in self._validators):
                return [FieldError(("schema_version",),
                                   f"{type_name} has no schema_version {version}")]
            return [FieldError(("type",), f"unknown event type {type_name!r}; "
                                          f"known: {', '.join(self.types)}")]
        return [FieldError(("payload", *err.absolute_path), plain_reason(err).message[:300])
                for err in validator.iter_errors(payload)]


def plain_reason(error: ValidationError) -> ValidationError:
    """For a personal field (plain name or sealed value), why it fails as a plain name."""
    if error.validator == "anyOf" and error.context:
        plain = [e for e in error.context if e.relative_schema_path[0] == 0]
        return plain[0] if plain else error
    return error


@lru_cache(maxsize=1)
def catalogue() -> Catalogue:
    return Catalogue()
