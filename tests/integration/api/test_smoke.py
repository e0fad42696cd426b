"""The server answers over real HTTP on both backends."""

from __future__ import annotations

from tests.support import SiteClient


def test_fresh_site_has_nothing_right_now(site: SiteClient) -> None:
    assert site.get("/api/v3/livechat/realTime/RightNow") == {
        "loggedInAgents": 0,
        "agentsInChat": 0,
        "chatUtilization": 0,
        "visitorOnSite": 0,
        "ongoingChats": 0,
        "ongoingChatsWithAgent": 0,
        "currentQueueLength": 0,
        "ongoingChatsWithBot": 0,
    }
