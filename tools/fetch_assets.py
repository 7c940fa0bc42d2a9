"""Fetch the browser assets that no PyPI package ships (ECharts, jsQR), without Node.js.

Run by ``make install`` (``.venv/bin/python tools/fetch_assets.py``). For each asset it downloads a
pinned npm tarball straight from the registry, checks it against the pinned Subresource-Integrity
hash (``dist.integrity`` in the registry's metadata), and extracts only the files Pingan serves into
``pingan/<app>/static/<app>/vendor/`` (git-ignored). Idempotent: a file that is present and matches
the hash recorded next to it is not fetched again. Offline, it fails with a message and leaves no
partial files; the pages still render, without charts.

    python tools/fetch_assets.py            # fetch what is missing
    python tools/fetch_assets.py --check    # exit 1 if anything is missing or altered
    python tools/fetch_assets.py --force    # fetch again

Environment: ``PINGAN_NPM_REGISTRY`` (default https://registry.npmjs.org) to use a mirror; the pinned
hashes are checked all the same.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import sys
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = os.environ.get("PINGAN_NPM_REGISTRY", "https://registry.npmjs.org").rstrip("/")


@dataclass(frozen=True)
class NpmAsset:
    package: str
    version: str
    integrity: str  # "sha512-<base64>", as the registry publishes it in dist.integrity
    files: dict[str, str]  # member inside the tarball → file name in the target folder
    target: Path

    @property
    def url(self) -> str:
        return f"{REGISTRY}/{self.package}/-/{self.package}-{self.version}.tgz"

    @property
    def manifest(self) -> Path:
        return self.target / f"{self.package}.json"


ASSETS = [
    NpmAsset(
        package="echarts",
        version="5.6.0",
        integrity="sha512-oTbVTsXfKuEhxftHqL5xprgLoc0k7uScAwtryCgWF6hPYFLRwOUHiFmHGCBKP5NPFNkDVopOieyUqYGH8Fa3kA==",
        files={
            "package/dist/echarts.min.js": "echarts.min.js",
            "package/LICENSE": "echarts.LICENSE.txt",
            "package/NOTICE": "echarts.NOTICE.txt",
        },
        target=ROOT / "pingan" / "dashboard" / "static" / "dashboard" / "vendor",
    ),
    # the checkpoint scanner page's QR decoder (camera frames → the follow code)
    NpmAsset(
        package="jsqr",
        version="1.4.0",
        integrity="sha512-dxLob7q65Xg2DvstYkRpkYtmKm2sPJ9oFhrhmudT1dZvNFFTlroai3AWSpLey/w5vMcLBXRgOJsbXpdN9HzU/A==",
        files={"package/dist/jsQR.js": "jsQR.js", "package/LICENSE": "jsQR.LICENSE.txt"},
        target=ROOT / "pingan" / "corrections" / "static" / "corrections" / "vendor",
    ),
]


def sri(data: bytes, algorithm: str = "sha512") -> str:
    return f"{algorithm}-" + base64.b64encode(hashlib.new(algorithm, data).digest()).decode()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def installed(asset: NpmAsset) -> bool:
    """Present, from this version and tarball, and unchanged since extraction."""
    try:
        recorded = json.loads(asset.manifest.read_text())
    except (OSError, ValueError):
        return False
    if recorded.get("version") != asset.version or recorded.get("integrity") != asset.integrity:
        return False
    files = recorded.get("files", {})
    if set(files) != set(asset.files.values()):
        return False
    return all((asset.target / name).is_file() and sha256(asset.target / name) == digest for name, digest in files.items())


def download(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "pingan-fetch-assets"})  # noqa: S310 (fixed https URL)
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
        return bytes(response.read())


def fetch(asset: NpmAsset) -> None:
    data = download(asset.url)
    algorithm = asset.integrity.split("-", 1)[0]
    got = sri(data, algorithm)
    if got != asset.integrity:
        raise RuntimeError(f"{asset.url}: integrity mismatch (expected {asset.integrity}, got {got}); nothing written")
    wanted: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in tar.getmembers():
            if member.name in asset.files and member.isfile():
                extracted = tar.extractfile(member)
                if extracted is not None:
                    wanted[member.name] = extracted.read()
    missing = sorted(set(asset.files) - set(wanted))
    if missing:
        raise RuntimeError(f"{asset.url}: the tarball lacks {', '.join(missing)}")
    asset.target.mkdir(parents=True, exist_ok=True)
    digests = {}
    for member, name in asset.files.items():
        # write next to the target, then rename: a reader never sees half a file
        fd, tmp = tempfile.mkstemp(dir=asset.target, prefix=f".{name}.")
        with os.fdopen(fd, "wb") as fh:
            fh.write(wanted[member])
        os.chmod(tmp, 0o644)  # static files: readable by a web server running as another user
        os.replace(tmp, asset.target / name)
        digests[name] = hashlib.sha256(wanted[member]).hexdigest()
    record = {"package": asset.package, "version": asset.version, "integrity": asset.integrity, "source": asset.url,
              "files": digests}
    asset.manifest.write_text(json.dumps(record, indent=2) + "\n")


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="only check; exit 1 when something is missing")
    parser.add_argument("--force", action="store_true", help="download again even when present")
    args = parser.parse_args(argv)
    status = 0
    for asset in ASSETS:
        label = f"{asset.package} {asset.version}"
        if not args.force and installed(asset):
            print(f"{label}: present and verified")
            continue
        if args.check:
            print(f"{label}: missing or altered in {_shown(asset.target)}", file=sys.stderr)
            status = 1
            continue
        try:
            fetch(asset)
        except (OSError, RuntimeError, tarfile.TarError) as exc:
            print(f"{label}: not fetched ({exc}); pages will render without charts or camera scanning", file=sys.stderr)
            status = 1
            continue
        print(f"{label}: fetched into {_shown(asset.target)}")
    return status


if __name__ == "__main__":
    sys.exit(main())
