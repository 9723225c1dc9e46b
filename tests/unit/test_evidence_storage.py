"""The storage contract against the local-directory adapter."""
from __future__ import annotations

from pathlib import Path

import pytest

from saylau.evidence import LocalEvidenceStorage
from tests.evidence_contract import EvidenceStorageContract


class TestLocalEvidenceStorage(EvidenceStorageContract):
    @pytest.fixture
    def storage(self, tmp_path: Path) -> LocalEvidenceStorage:
        return LocalEvidenceStorage(tmp_path / "evidence")

    def test_files_are_sharded_by_hash_and_no_temp_file_is_left(
            self, storage: LocalEvidenceStorage) -> None:
        name = storage.put(b"ballot box photo")
        assert storage.path(name) == storage.root / name[:2] / name[2:4] / name
        assert storage.path(name).read_bytes() == b"ballot box photo"
        assert list((storage.root / "tmp").iterdir()) == []
