"""Vendor (or check) the wallboard's stream client: eventsource-client and eventsource-parser.

The pins live in src/chatpulse/api/static/vendor/VERSIONS: package, exact version, the npm
tarball's integrity (sha512, as `npm view <pkg>@<version> dist.integrity` prints it), the file
taken from the tarball and the sha256 of the copy served to browsers. This script downloads each
tarball from the npm registry, refuses it unless its sha512 matches the pin, and takes the file
and the LICENSE. The one change to the files: eventsource-client imports the bare specifier
"eventsource-parser", which a browser cannot resolve without a bundler or an import map (an
inline import map is blocked by the page's `script-src 'self'`), so that import is pointed at
the vendored copy, "./eventsource-parser.js". Nothing else is touched.

    .venv/bin/python scripts/vendor_eventsource_client.py           # (re)write the copies
    .venv/bin/python scripts/vendor_eventsource_client.py --check   # compare, change nothing

To update: set the new version and its integrity in VERSIONS, run without --check (it prints
the new sha256 to put in VERSIONS), read the diff of the vendored files, run the browser tests.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import sys
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

VENDOR = Path(__file__).resolve().parent.parent / "src/chatpulse/api/static/vendor"
REGISTRY = "https://registry.npmjs.org"
REWRITES = {
    "eventsource-client": (
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


def tarball(pin: Pin) -> bytes:
    name = pin.package.rsplit("/", 1)[-1]
    url = f"{REGISTRY}/{pin.package}/-/{name}-{pin.version}.tgz"
    with urllib.request.urlopen(url, timeout=60) as response:
        body: bytes = response.read()
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


def vendored(pin: Pin) -> dict[str, bytes]:
    """The files this pin puts in the vendor directory: the script and its licence."""
    with tarfile.open(fileobj=io.BytesIO(tarball(pin)), mode="r:gz") as archive:
        script = member(archive, pin.member)
        licence = member(archive, "package/LICENSE")
    rewrite = REWRITES.get(pin.package)
    if rewrite is not None:
        old, new = rewrite
        if script.count(old) != 1:
            raise SystemExit(f"{pin.package}: the import to rewrite is not there exactly once")
        script = script.replace(old, new)
    return {pin.target: script, f"LICENSE.{pin.package}": licence}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare only; change nothing")
    check = parser.parse_args().check
    ok = True
    for pin in read_pins(VENDOR / "VERSIONS"):
        files = vendored(pin)
        digest = hashlib.sha256(files[pin.target]).hexdigest()
        if digest != pin.sha256:
            print(f"{pin.target}: sha256 {digest} (VERSIONS says {pin.sha256})")
            ok = False
        for name, body in files.items():
            path = VENDOR / name
            if check:
                if not path.exists() or path.read_bytes() != body:
                    print(f"{path} differs from {pin.package}@{pin.version}")
                    ok = False
            else:
                path.write_bytes(body)
        print(f"{pin.package}@{pin.version}: {'checked' if check else 'written'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
