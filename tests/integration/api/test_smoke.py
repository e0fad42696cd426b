"""The server answers over real HTTP on both backends."""

from __future__ import annotations

from tests.factories import right_now
from tests.support import SiteClient


def test_fresh_site_has_nothing_right_now(site: SiteClient) -> None:
    assert site.get("/api/v3/livechat/realTime/RightNow") == right_now()
