"""The wallboard's files over HTTP: no auth, their types, and the security headers."""

from __future__ import annotations

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
    assert '<script src="/wallboard/wallboard.js" defer></script>' in html


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
