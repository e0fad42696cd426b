"""RightNow is answered from a cache keyed by the site's last sequence and configuration
version: a configuration change with no new event must still show at once."""

from __future__ import annotations

from tests.factories import agent_status, chat_accepted, chat_requested
from tests.support import SiteClient, ev, uid

RIGHT_NOW = "/api/v3/livechat/realTime/RightNow"


def test_configuration_changes_show_in_right_now_without_a_new_event(site: SiteClient) -> None:
    site.department(1, "Sales")
    site.agent(1, "Alice", (1,), capacity=4)
    lunch = site.http.post(
        "/api/v3/livechat/agentStatuses", json={"name": "Desk", "type": "online"}
    ).json()["id"]
    site.ok_events(agent_status(1, -600, lunch), chat_requested(1, -500), chat_accepted(1, -490))
    first = site.get(RIGHT_NOW)
    assert (first["loggedInAgents"], first["chatUtilization"]) == (1, 25)  # 1 of 4

    alice = site.http.get(f"/api/v3/agents/{uid('agent', 1)}").json()
    alice["maxConcurrentChats"] = 3
    assert site.http.put(f"/api/v3/agents/{uid('agent', 1)}", json=alice).status_code == 200
    assert site.get(RIGHT_NOW)["chatUtilization"] == 33  # 1 of 3, rounded

    desk = {"name": "Desk", "type": "away"}
    response = site.http.put(f"/api/v3/livechat/agentStatuses/{lunch}", json=desk)
    assert response.status_code == 200, response.text
    after = site.get(RIGHT_NOW)
    assert (after["loggedInAgents"], after["chatUtilization"]) == (1, 0)  # away: not online

    assert site.get(RIGHT_NOW, departmentId=uid("dept", 1))["ongoingChatsWithAgent"] == 1
    assert site.http.delete(f"/api/v3/departments/{uid('dept', 1)}").status_code == 204
    gone = site.http.get(RIGHT_NOW, params={"departmentId": uid("dept", 1)})
    assert gone.status_code == 400
    assert gone.json()["errors"][0]["field"] == "departmentId"


def test_each_site_and_department_has_its_own_answer(
    site: SiteClient, other_site: SiteClient
) -> None:
    site.department(1, "Sales")
    other_site.department(2, "Support")
    site.ok_events(ev("visitor.arrived", -10, visitorId=uid("visitor", 1)))
    other_site.ok_events(
        ev("invitation.sent", -10, invitationId=uid("invitation", 1), visitorId=uid("visitor", 2))
    )
    # Both sites are at sequence 1 and configuration version 1; the answers differ.
    assert site.get(RIGHT_NOW)["visitorOnSite"] == 1
    assert other_site.get(RIGHT_NOW)["visitorOnSite"] == 0
    assert site.get(RIGHT_NOW, departmentId=uid("dept", 1))["visitorOnSite"] == 1
