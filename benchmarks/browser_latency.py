"""Event-to-browser latency: ingest returned → the wallboard in headless Chromium shows it, with
N open streams in all (the page's own and N − 1 others).

.venv/bin/python -m benchmarks.browser_latency [--streams 100] [--ingests 30] [--gap-ms 400]

Each ingest is one `visitor.arrived`; the latency is from the ingest's response to the moment the
page's "Visitors on site" tile shows the new count, observed inside the page by a
MutationObserver that records `performance.timeOrigin + performance.now()` (the same wall
clock as the benchmark's `time.time()`). Chromium, the server and the clients share the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import time
import uuid

import httpx
from playwright.async_api import async_playwright

from benchmarks.common import machine, percentile, served

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WATCH = """() => {
  window.__seen = {};
  const node = document.querySelector('[data-testid="rightnow-visitorOnSite"]');
  new MutationObserver(() => {
    const value = node.textContent;
    const now = performance.timeOrigin + performance.now();
    if (!(value in window.__seen)) window.__seen[value] = now;
  }).observe(node, {childList: true, characterData: true, subtree: true});
}"""


async def drain(http: httpx.AsyncClient) -> None:
    async with http.stream("GET", "/api/v3/livechat/realTime/stream") as response:
        async for _ in response.aiter_lines():
            pass


async def run(url: str, token: str, streams: int, ingests: int, gap: float) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=streams + 10)
    timeout = httpx.Timeout(60, read=None)
    async with (
        httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=timeout) as sse,
        httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as http,
        async_playwright() as pw,
    ):
        others = [asyncio.create_task(drain(sse)) for _ in range(streams - 1)]
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        # bypass_csp: the page forbids eval, which wait_for_function and evaluate need
        page = await browser.new_page(viewport={"width": 1920, "height": 1080}, bypass_csp=True)
        await page.add_init_script(
            f"sessionStorage.setItem('chatpulse.wallboard.token', {token!r})"
        )
        await page.goto(url + "/wallboard")
        tile = page.get_by_test_id("rightnow-visitorOnSite")
        await page.wait_for_function(
            "document.querySelector('[data-testid=\"rightnow-visitorOnSite\"]').textContent === '0'"
        )
        await page.evaluate(WATCH)
        await asyncio.sleep(1)  # every stream past its first snapshot's 250 ms
        occurred = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
        returned: list[tuple[int, float]] = []
        for n in range(1, ingests + 1):
            event = {
                "id": str(uuid.uuid4()),
                "type": "visitor.arrived",
                "occurredAt": occurred.isoformat().replace("+00:00", "Z"),
                "data": {"visitorId": str(uuid.uuid4())},
            }
            response = await http.post("/api/v3/livechat/events", json=event)
            assert response.status_code == 200, response.text
            returned.append((n, time.time()))
            await asyncio.sleep(gap)
        await tile.filter(has_text=str(ingests)).wait_for(timeout=10_000)
        seen: dict[str, float] = await page.evaluate("window.__seen")
        await browser.close()
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)
    latencies = [(seen[str(n)] / 1000 - at) * 1000 for n, at in returned if str(n) in seen]
    print(
        f"event → browser ({streams} streams open, {len(latencies)} of {ingests} ingests seen): "
        f"p50 {percentile(latencies, 50):.1f} ms, p99 {percentile(latencies, 99):.1f} ms, "
        f"max {max(latencies):.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--streams", type=int, default=100)
    parser.add_argument("--ingests", type=int, default=30)
    parser.add_argument("--gap-ms", type=int, default=400)
    parser.add_argument("--database", default=None)
    args = parser.parse_args()
    with served(args.database) as target:
        print(f"machine: {machine()}; database: {target.database.split(':')[0]}")
        asyncio.run(run(target.url, target.token, args.streams, args.ingests, args.gap_ms / 1000))


if __name__ == "__main__":
    main()
