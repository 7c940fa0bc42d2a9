"""tools/fetch_assets.py: a pinned npm tarball, checked against its integrity hash, unpacked once."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import io
import sys
import tarfile
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fetch_assets", ROOT / "tools" / "fetch_assets.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


def tarball(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


@pytest.fixture
def tool(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    module = load_tool()
    data = tarball({"package/dist/echarts.min.js": b"var echarts={};", "package/LICENSE": b"Apache-2.0",
                    "package/NOTICE": b"notice", "package/src/big.js": b"not wanted"})
    integrity = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    asset = module.NpmAsset("echarts", "9.9.9", integrity, dict(module.ASSETS[0].files), tmp_path / "vendor")
    monkeypatch.setattr(module, "ASSETS", [asset])
    calls: list[str] = []

    def download(url: str) -> bytes:
        calls.append(url)
        return data

    monkeypatch.setattr(module, "download", download)
    module.calls = calls
    return module


def test_the_pinned_echarts_is_a_sha512_integrity() -> None:
    asset = load_tool().ASSETS[0]
    assert asset.package == "echarts" and asset.version == "5.6.0"
    assert asset.integrity.startswith("sha512-") and len(base64.b64decode(asset.integrity[7:])) == 64
    assert asset.url.endswith("/echarts/-/echarts-5.6.0.tgz")


def test_only_the_listed_files_are_unpacked_and_a_second_run_downloads_nothing(tool, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert tool.main([]) == 0
    target = tmp_path / "vendor"
    assert (target / "echarts.min.js").read_bytes() == b"var echarts={};"
    assert (target / "echarts.LICENSE.txt").read_bytes() == b"Apache-2.0"
    assert not (target / "big.js").exists()
    assert tool.main([]) == 0
    assert len(tool.calls) == 1
    assert tool.main(["--check"]) == 0


def test_an_altered_file_is_fetched_again(tool, tmp_path) -> None:  # type: ignore[no-untyped-def]
    tool.main([])
    (tmp_path / "vendor" / "echarts.min.js").write_bytes(b"alert('changed')")
    assert tool.main(["--check"]) == 1
    tool.main([])
    assert (tmp_path / "vendor" / "echarts.min.js").read_bytes() == b"var echarts={};"
    assert len(tool.calls) == 2


def test_a_tarball_that_does_not_match_the_pin_writes_nothing(tool, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(tool, "download", lambda url: tarball({"package/dist/echarts.min.js": b"evil"}))
    assert tool.main([]) == 1
    assert not (tmp_path / "vendor").exists()
