"""The wallboard's files over HTTP: no auth, their types, and the security headers."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import io
import sys
import tarfile
from importlib import resources
from pathlib import Path
from types import ModuleType

import pytest

from tests.support import Server


def _load_vendor_script() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "scripts" / "vendor_browser_packages.py"
    spec = importlib.util.spec_from_file_location("vendor_browser_packages", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


vendor_script = _load_vendor_script()

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; frame-ancestors 'none'"
)


@pytest.mark.parametrize(
    ("path", "content_type", "starts_with"),
    [
        ("/wallboard", "text/html; charset=utf-8", b"<!doctype html>"),
        ("/wallboard/wallboard.js", "text/javascript; charset=utf-8", b"/* ChatPulse wallboard"),
        (
            "/wallboard/wallboard-alerts.js",
            "text/javascript; charset=utf-8",
            b"/* ChatPulse wallboard alerts",
        ),
        ("/wallboard/wallboard.css", "text/css; charset=utf-8", b"/* ChatPulse wallboard"),
        ("/wallboard/favicon.svg", "image/svg+xml", b"<svg "),
        (
            "/wallboard/vendor/eventsource-client.js",
            "text/javascript; charset=utf-8",
            b'import { createParser } from "./eventsource-parser.js";\n',
        ),
        (
            "/wallboard/vendor/eventsource-parser.js",
            "text/javascript; charset=utf-8",
            b"class ParseError extends Error {",
        ),
        (
            "/wallboard/vendor/uplot.js",
            "text/javascript; charset=utf-8",
            b"/**\n* Copyright (c) 2025, Leon Sorokin\n",
        ),
        ("/wallboard/vendor/uplot.css", "text/css; charset=utf-8", b".uplot, .uplot *,"),
    ],
)
def test_wallboard_files_are_served_without_a_token_and_with_security_headers(
    server: Server, path: str, content_type: str, starts_with: bytes
) -> None:
    with server.client() as http:
        response = http.get(path)
    assert response.status_code == 200
    assert response.content.startswith(starts_with)
    headers = response.headers
    assert headers["content-type"] == content_type
    assert headers["content-security-policy"] == CSP
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["cache-control"] == "no-cache"


def test_the_page_uses_no_inline_script_or_style(server: Server) -> None:
    with server.client() as http:
        html = http.get("/wallboard").text
    assert "<script>" not in html
    assert "style=" not in html
    assert "<style" not in html
    assert html.count("<script ") == 1
    assert '<script type="module" src="/wallboard/wallboard.js"></script>' in html


def test_a_trailing_slash_redirects_to_the_page_keeping_the_query(server: Server) -> None:
    with server.client() as http:
        response = http.get("/wallboard/?alertWait=90")
    assert response.status_code == 308
    assert response.headers["location"] == "/wallboard?alertWait=90"


def test_an_unknown_wallboard_file_is_a_problem_404(server: Server) -> None:
    with server.client() as http:
        response = http.get("/wallboard/secrets.txt")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_the_vendored_packages_are_the_pinned_copies_with_their_licences() -> None:
    """static/vendor/VERSIONS pins each file by sha256 (scripts/vendor_browser_packages.py
    --check compares them with the npm tarballs); the package ships them and their licences."""
    vendor = resources.files("chatpulse.api").joinpath("static", "vendor")
    pins = [
        line.split()
        for line in vendor.joinpath("VERSIONS").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert [(name, version, served) for name, version, _, _, served, _ in pins] == [
        ("eventsource-client", "1.2.0", "eventsource-client.js"),
        ("eventsource-parser", "3.1.1", "eventsource-parser.js"),
        ("uplot", "1.6.32", "uplot.js"),
        ("uplot", "1.6.32", "uplot.css"),
    ]
    for name, _, integrity, _, served, sha256 in pins:
        assert integrity.startswith("sha512-")
        assert hashlib.sha256(vendor.joinpath(served).read_bytes()).hexdigest() == sha256
        first_line = vendor.joinpath(f"LICENSE.{name}").read_text().splitlines()[0]
        assert first_line in ("MIT License", "The MIT License (MIT)")


def _tarball(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        for name, body in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            archive.addfile(info, io.BytesIO(body))
    return out.getvalue()


def _integrity(body: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(body).digest()).decode()


def test_the_vendor_script_takes_each_pinned_file_once_per_tarball_and_checks_the_copies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The script over tarballs made here (no registry): the sha512 pin, the files of a package
    with two lines, the one rewritten import, the licences, and --check finding a changed copy."""
    client = b'import { createParser } from "eventsource-parser";\nexport const x = 1;\n'
    chart, chart_style = b"export default 1;\n", b".uplot {}\n"
    served_client = client.replace(b'"eventsource-parser"', b'"./eventsource-parser.js"')
    tarballs = {
        ("eventsource-client", "1.2.0"): _tarball(
            {"package/dist/default.esm.js": client, "package/LICENSE": b"MIT License\n"}
        ),
        ("uplot", "1.6.32"): _tarball(
            {
                "package/dist/uPlot.esm.js": chart,
                "package/dist/uPlot.min.css": chart_style,
                "package/LICENSE": b"The MIT License (MIT)\n",
            }
        ),
    }
    fetched: list[tuple[str, str]] = []

    def fetch(package: str, version: str) -> bytes:
        fetched.append((package, version))
        return tarballs[package, version]

    def sha(body: bytes) -> str:
        return hashlib.sha256(body).hexdigest()

    client_sri = _integrity(tarballs["eventsource-client", "1.2.0"])
    uplot_sri = _integrity(tarballs["uplot", "1.6.32"])
    (tmp_path / "VERSIONS").write_text(
        "# package version integrity member served sha256\n"
        f"eventsource-client 1.2.0 {client_sri} package/dist/default.esm.js"
        f" eventsource-client.js {sha(served_client)}\n"
        f"uplot 1.6.32 {uplot_sri} package/dist/uPlot.esm.js uplot.js {sha(chart)}\n"
        f"uplot 1.6.32 {uplot_sri} package/dist/uPlot.min.css uplot.css {sha(chart_style)}\n"
    )
    assert vendor_script.vendor(tmp_path, check=True, fetch=fetch) is False  # nothing there yet
    assert vendor_script.vendor(tmp_path, check=False, fetch=fetch) is True
    assert fetched == [("eventsource-client", "1.2.0"), ("uplot", "1.6.32")] * 2
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir()} == {
        "VERSIONS": (tmp_path / "VERSIONS").read_bytes(),
        "eventsource-client.js": served_client,
        "LICENSE.eventsource-client": b"MIT License\n",
        "uplot.js": chart,
        "uplot.css": chart_style,
        "LICENSE.uplot": b"The MIT License (MIT)\n",
    }
    assert vendor_script.vendor(tmp_path, check=True, fetch=fetch) is True

    (tmp_path / "uplot.css").write_bytes(b".uplot { color: red }\n")
    capsys.readouterr()
    assert vendor_script.vendor(tmp_path, check=True, fetch=fetch) is False
    assert f"{tmp_path / 'uplot.css'} differs from uplot@1.6.32" in capsys.readouterr().out

    tarballs["uplot", "1.6.32"] += b"tampered"
    with pytest.raises(SystemExit, match=r"uplot@1\.6\.32: tarball sha512-.* is not the pin"):
        vendor_script.vendor(tmp_path, check=True, fetch=fetch)
