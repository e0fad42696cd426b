"""Vendor (or check) the wallboard's browser packages: the stream client and uPlot.

The pins live in src/chatpulse/api/static/vendor/VERSIONS, one line per served file: package,
exact version, the npm tarball's integrity (sha512, as `npm view <pkg>@<version> dist.integrity`
prints it), the file taken from the tarball, the name it is served as and the sha256 of that
copy. A package may have several lines (uPlot: its ES module and its stylesheet), all with the
same version and integrity. This script downloads each tarball once from the npm registry,
refuses it unless its sha512 matches the pin, and takes the files and the package's LICENSE
(as LICENSE.<package>). The one change to the files: eventsource-client imports the bare
specifier "eventsource-parser", which a browser cannot resolve without a bundler or an import map
(an inline import map is blocked by the page's `script-src 'self'`), so that import is pointed
at the vendored copy, "./eventsource-parser.js". Nothing else is touched.

    .venv/bin/python scripts/vendor_browser_packages.py           # (re)write the copies
    .venv/bin/python scripts/vendor_browser_packages.py --check   # compare, change nothing

To update or add a package: set its version and integrity in VERSIONS, run without --check (it
prints the sha256 of each copy that differs from VERSIONS: put it there), read the diff of the
vendored files, run the browser tests.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import sys
import tarfile
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

VENDOR = Path(__file__).resolve().parent.parent / "src/chatpulse/api/static/vendor"
REGISTRY = "https://registry.npmjs.org"
# (package, served file): the one line to change in it, and what it becomes.
REWRITES = {
    ("eventsource-client", "eventsource-client.js"): (
        b'import { createParser } from "eventsource-parser";\n',
        b'import { createParser } from "./eventsource-parser.js";\n',
    ),
}


@dataclass(frozen=True)
class Pin:
    package: str
    version: str
    integrity: str
    member: str
    target: str
    sha256: str


def read_pins(path: Path) -> list[Pin]:
    pins = []
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        pins.append(Pin(*line.split()))
    return pins


def download(package: str, version: str) -> bytes:
    """The package's tarball from the npm registry."""
    name = package.rsplit("/", 1)[-1]
    url = f"{REGISTRY}/{package}/-/{name}-{version}.tgz"
    with urllib.request.urlopen(url, timeout=60) as response:
        body: bytes = response.read()
    return body


def verified(body: bytes, pin: Pin) -> bytes:
    algorithm, _, expected = pin.integrity.partition("-")
    if algorithm != "sha512":
        raise SystemExit(f"{pin.package}: only sha512 integrity is accepted, not {algorithm}")
    got = base64.b64encode(hashlib.sha512(body).digest()).decode()
    if got != expected:
        raise SystemExit(f"{pin.package}@{pin.version}: tarball sha512-{got} is not the pin")
    return body


def member(archive: tarfile.TarFile, name: str) -> bytes:
    handle = archive.extractfile(name)
    if handle is None:
        raise SystemExit(f"{name} is not a file in the tarball")
    return handle.read()


def vendored(pins: list[Pin], tarball: bytes) -> dict[str, bytes]:
    """The files one package's pins put in the vendor directory: its served files and licence."""
    package = pins[0].package
    files: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        for pin in pins:
            body = member(archive, pin.member)
            rewrite = REWRITES.get((package, pin.target))
            if rewrite is not None:
                old, new = rewrite
                if body.count(old) != 1:
                    raise SystemExit(f"{package}: the line to rewrite is not there exactly once")
                body = body.replace(old, new)
            files[pin.target] = body
        files[f"LICENSE.{package}"] = member(archive, "package/LICENSE")
    return files


def by_package(pins: list[Pin]) -> dict[str, list[Pin]]:
    grouped: dict[str, list[Pin]] = {}
    for pin in pins:
        grouped.setdefault(pin.package, []).append(pin)
    for package, same in grouped.items():
        if len({(pin.version, pin.integrity) for pin in same}) != 1:
            raise SystemExit(f"{package}: its lines in VERSIONS name different versions")
    return grouped


def vendor(folder: Path, check: bool, fetch: Callable[[str, str], bytes] = download) -> bool:
    """Write (or, with `check`, compare) the copies in `folder` that its VERSIONS pins; True
    when every copy is the pinned one."""
    ok = True
    for package, pins in by_package(read_pins(folder / "VERSIONS")).items():
        version = pins[0].version
        files = vendored(pins, verified(fetch(package, version), pins[0]))
        for pin in pins:
            digest = hashlib.sha256(files[pin.target]).hexdigest()
            if digest != pin.sha256:
                print(f"{pin.target}: sha256 {digest} (VERSIONS says {pin.sha256})")
                ok = False
        for name, body in files.items():
            path = folder / name
            if check:
                if not path.exists() or path.read_bytes() != body:
                    print(f"{path} differs from {package}@{version}")
                    ok = False
            else:
                path.write_bytes(body)
        print(f"{package}@{version}: {'checked' if check else 'written'}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare only; change nothing")
    check = parser.parse_args(argv).check
    return 0 if vendor(VENDOR, check) else 1


if __name__ == "__main__":
    sys.exit(main())
