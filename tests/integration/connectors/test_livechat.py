"""LiveChat's lifecycles (tests/fixtures/connectors/livechat a…f) posted to a connector's
webhook URL over real HTTP, then read back from the four Real Time views, every number worked
out by hand from METRICS.md and the fixtures' times (docs/connectors.md, LiveChat).

Deliveries are received at the instants `deliver(..., at=...)` sets on the server's clock (see
livechat_support): those are the times of the webhooks LiveChat does not date. Each test reads
the views with the clock at a later instant of the same day, so Today and Agents cover the
fixtures' day from midnight (UTC, the site's zone) to then.
"""

from __future__ import annotations

from chatpulse.clock import FixedClock
from tests.factories import right_now
from tests.integration.connectors.livechat_support import (
    CUSTOMER,
    CUSTOMER2,
    JONES,
    SMITH,
    LiveChat,
    add_livechat,
    agent,
    agent_item,
    agents_page,
    department,
    micros,
    queue_row,
    today,
    view,
)
from tests.support import AWAY, OFFLINE, ONLINE, SiteClient


def deliver_lifecycle_a(lc: LiveChat) -> None:
    """(a) queued in group 1, answered by Smith, ended, rated good."""
    lc.deliver("a1_incoming_chat_queued", at="09:15:04", accepted=1)  # the form is no message
    lc.deliver("a2_customer_message", at="09:15:11", accepted=1)
    lc.deliver("a3_agent_added", at="09:15:15", accepted=1)
    lc.deliver("a4_agent_message", at="09:16:06", accepted=1)
    lc.deliver("a5_customer_message", at="09:16:41", accepted=1)
    lc.deliver("a6_chat_deactivated", at="09:17:00", accepted=1)
    lc.deliver("a7_thread_rated_good", at="09:17:05", accepted=1)


def check_views_after_lifecycle_a(lc: LiveChat) -> None:
    """The four views at 09:20:00 after lifecycle (a), however it was delivered."""
    lc.clock.value = micros("09:20:00")
    site = lc.site
    assert view(site, "RightNow") == right_now()  # over: nobody waits, nobody chats
    assert view(site, "Queue") == [
        # waited 11.879569 s: thread created 09:15:03.120431 -> Smith added (received) 09:15:15
        queue_row(lc, "1", avgWaitTimeinLast30Mins=12, avgWaitTimeinLast60Mins=12)
    ]
    assert view(site, "Today") == today(
        totalChats=1,
        chatRequests=1,  # it waited in the queue
        chats=1,
        chatAcceptanceRate=100,
        serviceAccessibilityRate=100,
        uniqueChatRate=100,  # Smith alone
        avgWaitingTime=11.88,  # 11.879569 s, as above
        avgChatTime=105,  # accepted 09:15:15 -> deactivated (received) 09:17:00
        avgScore=5,  # thumbs up (score 1) is 5
        # agentAvgResponseTime 0: the customer's first message (09:15:10) came while waiting,
        # so Smith's message (09:16:05) answers none; the last one (09:16:40) had no answer.
        # agentUtilization 0: Smith never set a routing status, so he was never logged in.
    )
    assert view(site, "Agents") == agents_page(
        # got the chat once, held it 09:15:15 -> 09:17:00 (1 min 45 s); Offline: no status
        agent_item(lc, SMITH, "Agent Smith", chats=1, linear="00:01:45")
    )


def test_a_queued_chat_answered_ended_and_rated(site: SiteClient, clock: FixedClock) -> None:
    lc = add_livechat(site, clock)
    lc.deliver("a1_incoming_chat_queued", at="09:15:04", accepted=1)
    lc.deliver("a2_customer_message", at="09:15:11", accepted=1)
    clock.value = micros("09:15:12")
    assert view(site, "RightNow") == right_now(currentQueueLength=1)
    # waiting since 09:15:03.120431: 8.88 s
    assert view(site, "Queue") == [queue_row(lc, "1", visitors=((CUSTOMER, 8),))]

    lc.deliver("a3_agent_added", at="09:15:15", accepted=1)
    clock.value = micros("09:16:00")
    assert view(site, "RightNow") == right_now(
        agentsInChat=1, ongoingChats=1, ongoingChatsWithAgent=1
    )  # chatUtilization 0: Smith is not online (no routing status yet)
    assert view(site, "Queue") == [
        queue_row(lc, "1", ongoingChats=1, avgWaitTimeinLast30Mins=12, avgWaitTimeinLast60Mins=12)
    ]

    lc.deliver("a4_agent_message", at="09:16:06", accepted=1)
    lc.deliver("a5_customer_message", at="09:16:41", accepted=1)
    lc.deliver("a6_chat_deactivated", at="09:17:00", accepted=1)
    lc.deliver("a7_thread_rated_good", at="09:17:05", accepted=1)
    check_views_after_lifecycle_a(lc)
    # Group 1 named by the chat's access, Smith by user_added_to_chat (no groups: webhooks
    # do not say an agent's groups)
    assert site.get("/api/v3/departments") == [department(lc, "1")]
    assert site.get("/api/v3/agents") == [agent(lc, SMITH, "Agent Smith", "09:15:15.000")]
    assert lc.drops() == {"total": 0, "list": []}


def test_b_a_chat_ended_while_waiting_is_abandoned(site: SiteClient, clock: FixedClock) -> None:
    lc = add_livechat(site, clock)
    lc.deliver("b1_incoming_chat_queued", at="10:02:45", accepted=2)  # the request, a message
    clock.value = micros("10:03:30")
    assert view(site, "RightNow") == right_now(currentQueueLength=1)
    # waiting since 10:02:44.310877: 45.69 s
    assert view(site, "Queue") == [queue_row(lc, "2", visitors=((CUSTOMER2, 45),))]

    # chat_deactivated of a chat nobody answered: chat.ended repaired as chat.abandoned
    lc.deliver("b2_chat_deactivated_by_customer", at="10:04:00", accepted=1, repaired=1)
    clock.value = micros("10:10:00")
    assert view(site, "RightNow") == right_now()
    assert view(site, "Queue") == [
        # waited 75.689123 s: 10:02:44.310877 -> 10:04:00, abandoned
        queue_row(
            lc,
            "2",
            avgWaitTimeinLast30Mins=76,
            avgWaitTimeinLast60Mins=76,
            abandonedChatsinLast30Mins=1,
        )
    ]
    assert view(site, "Today") == today(
        totalChats=1,
        chatRequests=1,
        abandondedChats=1,
        missedChats=1,  # asked for an agent, abandoned, never accepted
        serviceAccessibilityRate=100,  # not switched to a message: (1 - 0) / 1
        avgWaitingTime=75.69,  # its first wait ended (abandoned) after 75.689123 s
    )
    assert view(site, "Agents") == agents_page()
    assert site.get("/api/v3/agents") == []
    assert site.get("/api/v3/departments") == [department(lc, "2")]


def test_c_an_assigned_chat_transferred_to_another_agent(
    site: SiteClient, clock: FixedClock
) -> None:
    lc = add_livechat(site, clock)
    # requested and accepted by Smith at 11:30:00.501233, the customer's message at .612001;
    # the welcome message is nobody's reply
    lc.deliver("c1_incoming_chat_assigned", at="11:30:01", accepted=3)
    lc.deliver("c2_chat_transferred_to_agent", at="11:31:00", accepted=1)  # to Jones
    # Jones added: the chat is his already (said before)
    lc.deliver("c3_agent_added", at="11:31:01", skipped=1)
    lc.deliver(
        "c4_agent_removed",
        at="11:31:02",
        ignored="LiveChat's user_removed_from_chat webhook changes no ChatPulse figure",
    )

    clock.value = micros("11:35:00")
    assert view(site, "RightNow") == right_now(
        agentsInChat=1, ongoingChats=1, ongoingChatsWithAgent=1
    )
    # Its wait of 0 s (requested and accepted at once) ended 4 min ago: mean 0 s
    assert view(site, "Queue") == [queue_row(lc, "1", ongoingChats=1)]
    assert view(site, "Today") == today(
        totalChats=1,
        chatRequests=1,  # a wait of 0 s is a wait
        chats=1,
        chatAcceptanceRate=100,
        serviceAccessibilityRate=100,
        uniqueChatRate=0,  # Smith, then Jones
        totalTransferredChats=1,  # to an agent, not a department
        # avgWaitingTime 0 (0 s), avgChatTime 0 (not ended), agentAvgResponseTime 0 (the
        # customer's message has no answer yet)
    )
    assert view(site, "Agents") == agents_page(
        # Jones first: both Offline, he has the chat. Named by his id: the transfer named him
        # first, without a name, and a webhook never renames (a sync does).
        agent_item(lc, JONES, JONES, ongoing=1, chats=1, linear="00:04:00"),  # 11:31 -> 11:35
        # 11:30:00.501233 -> 11:31:00: 59.498767 s
        agent_item(lc, SMITH, "Agent Smith", chats=1, linear="00:00:59.4987670"),
    )
    assert site.get("/api/v3/agents") == [
        agent(lc, SMITH, "Agent Smith", "11:30:01.000"),
        agent(lc, JONES, JONES, "11:31:00.000"),
    ]


def test_d_a_waiting_chat_moved_to_another_group_keeps_its_wait(
    site: SiteClient, clock: FixedClock
) -> None:
    lc = add_livechat(site, clock)
    lc.deliver("d1_incoming_chat_queued", at="12:45:20", accepted=2)  # the request, a message
    # a transfer of a chat still waiting: chat.transferred repaired as chat.queued to group 2
    lc.deliver("d2_chat_transferred_to_group_queued", at="12:47:03.5", accepted=1, repaired=1)

    clock.value = micros("12:50:00")
    assert view(site, "RightNow") == right_now(currentQueueLength=1)
    assert view(site, "Queue") == [
        queue_row(lc, "1"),  # its wait did not end here: it moved on
        # the same wait, since 12:45:19.900300: 280.0997 s
        queue_row(lc, "2", visitors=((CUSTOMER2, 280),)),
    ]
    # departmentTransferredChats 0: a re-route of a waiting chat is no transfer
    assert view(site, "Today") == today(
        totalChats=1,
        chatRequests=1,
        serviceAccessibilityRate=100,  # (1 - 0 switched) / 1
    )
    assert view(site, "Agents") == agents_page()
    assert site.get("/api/v3/departments") == [department(lc, "1"), department(lc, "2")]


def test_e_routing_statuses_are_agent_statuses(site: SiteClient, clock: FixedClock) -> None:
    lc = add_livechat(site, clock)
    lc.deliver("e1_routing_smith_accepting", at="10:00:00", accepted=1)
    lc.deliver("e2_routing_jones_accepting", at="10:00:30", accepted=1)
    clock.value = micros("10:01:00")
    assert view(site, "RightNow") == right_now(loggedInAgents=2)
    # no group yet: the row of chats routed to no one, with both online agents' 3 + 3 slots
    assert view(site, "Queue") == [queue_row(lc, None, maxConcurrentChats=6)]

    lc.deliver("e3_routing_smith_not_accepting", at="10:05:00", accepted=1)
    lc.deliver("e4_routing_jones_not_accepting", at="10:10:00", accepted=1)
    lc.deliver(
        "e5_routing_bot_offline",
        at="10:10:05",
        ignored="a bot's routing status: bots are not agents in ChatPulse",
    )

    clock.value = micros("10:20:00")
    assert view(site, "RightNow") == right_now(loggedInAgents=2)  # away is logged in
    assert view(site, "Queue") == [queue_row(lc, None)]  # nobody online: no slots
    assert view(site, "Today") == today()  # agentUtilization 0: logged in, never chatting
    # Named by their ids: routing_status_set carries no name. Both away: by name.
    assert view(site, "Agents", includeStatusDistribution="true") == agents_page(
        agent_item(
            lc,
            JONES,
            JONES,
            AWAY,
            # Offline 00:00 -> 10:00:30, accepting chats -> 10:10, not accepting -> 10:20
            distribution={OFFLINE: 36_030, ONLINE: 570, AWAY: 600},
        ),
        agent_item(
            lc,
            SMITH,
            SMITH,
            AWAY,
            # Offline 00:00 -> 10:00, accepting chats -> 10:05, not accepting -> 10:20
            distribution={OFFLINE: 36_000, ONLINE: 300, AWAY: 900},
        ),
    )
    assert site.get("/api/v3/agents") == [
        agent(lc, JONES, JONES, "10:00:30.000"),
        agent(lc, SMITH, SMITH, "10:00:00.000"),
    ]


def test_f_a_chat_with_the_bot_handed_over_to_a_group(site: SiteClient, clock: FixedClock) -> None:
    lc = add_livechat(site, clock)
    # with the bot from 14:05:10.000421, the customer writing at .000600
    lc.deliver("f1_incoming_chat_bot", at="14:05:11", accepted=2)
    assert view(site, "RightNow") == right_now(ongoingChats=1, ongoingChatsWithBot=1)
    lc.deliver("f2_bot_message", at="14:05:12", accepted=1)
    # the bot transfers it to group 1: chat.queued, a wait begins at the time of receipt
    lc.deliver("f3_chat_transferred_by_bot_queued", at="14:05:13", accepted=1)

    clock.value = micros("14:06:00")
    assert view(site, "RightNow") == right_now(currentQueueLength=1)
    # waiting since 14:05:13 (the bot's time does not count): 47 s
    assert view(site, "Queue") == [queue_row(lc, "1", visitors=((CUSTOMER, 47),))]
    assert view(site, "Today") == today(
        totalChats=1,
        chatRequests=1,  # it asked for an agent
        serviceAccessibilityRate=100,  # and was not switched to a message: (1 - 0) / 1
    )
    assert view(site, "Agents") == agents_page()
    assert site.get("/api/v3/agents") == []  # the bot is not an agent
