"""The wallboard's files over HTTP: no auth, their types, and the security headers."""

from __future__ import annotations

import hashlib
from importlib import resources

import pytest

from tests.support import Server

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; frame-ancestors 'none'"
)


@pytest.mark.parametrize(
    ("path", "content_type", "starts_with"),
    [
        ("/wallboard", "text/html; charset=utf-8", b"<!doctype html>"),
        ("/wallboard/wallboard.js", "text/javascript; charset=utf-8", b"/* ChatPulse wallboard"),
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


def test_the_vendored_stream_client_is_the_pinned_copy_with_its_licences() -> None:
    """static/vendor/VERSIONS pins each file by sha256 (scripts/vendor_eventsource_client.py
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
    ]
    for name, _, integrity, _, served, sha256 in pins:
        assert integrity.startswith("sha512-")
        assert hashlib.sha256(vendor.joinpath(served).read_bytes()).hexdigest() == sha256
        assert vendor.joinpath(f"LICENSE.{name}").read_text().startswith("MIT License\n")
