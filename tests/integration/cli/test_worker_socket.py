"""`serve --workers N`: the listening socket names TCP, so asyncio turns Nagle's algorithm off
on every connection (with protocol 0 each answer waited ~40 ms for a delayed ACK)."""

from __future__ import annotations

import asyncio
import socket
import threading

import uvicorn

from chatpulse.cli import tcp_bind_socket
from tests.support import free_port


def test_connections_on_the_workers_socket_have_nodelay() -> None:
    config = uvicorn.Config("chatpulse.api.app:app_from_env", host="127.0.0.1", port=free_port())
    plain = uvicorn.config.Config.bind_socket(config)
    plain_proto = plain.proto
    plain.close()
    sock = tcp_bind_socket(uvicorn.config.Config.bind_socket)(config)

    async def nodelay_of_one_connection() -> int:
        seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        def accepted(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            raw = writer.get_extra_info("socket")
            seen.set_result(raw.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(accepted, sock=sock)
        async with server:
            _, writer = await asyncio.open_connection("127.0.0.1", config.port)
            value = await asyncio.wait_for(seen, 10)
            writer.close()
        return value

    # A thread of its own: another test may have left an event loop running in this one.
    values: list[int] = []
    runner = threading.Thread(
        target=lambda: values.append(asyncio.run(nodelay_of_one_connection()))
    )
    runner.start()
    runner.join(timeout=30)
    assert plain_proto == 0  # what uvicorn makes: asyncio would leave Nagle on
    assert (sock.family, sock.proto) == (socket.AF_INET, socket.IPPROTO_TCP)
    assert values == [1]
