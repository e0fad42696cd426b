"""What a change of a service-level threshold costs on a stored site: `PUT /api/v3/site`'s
write transaction (the site's write lock held while every ended wait is judged again), timed
in this process on a database the reference benchmark built.

    .venv/bin/python -m benchmarks.rejudge --database sqlite:////tmp/chatpulse-ref-…/ref.db
"""

from __future__ import annotations

import argparse
import time

from sqlalchemy import func, select

from chatpulse.domain.service_level import Thresholds
from chatpulse.store import tables as t
from chatpulse.store.db import make_engine
from chatpulse.store.sites import update_site


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--site", type=int, default=None, help="default: the first site")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    engine = make_engine(args.database)
    try:
        with engine.connect() as conn:
            site = args.site or conn.execute(select(t.sites.c.id).order_by(t.sites.c.id)).scalar()
            chats = conn.execute(
                select(func.count()).select_from(t.chats).where(t.chats.c.site_id == site)
            ).scalar_one()
            waits = conn.execute(
                select(func.count()).select_from(t.waits).where(t.waits.c.site_id == site)
            ).scalar_one()
        assert site is not None
        print(f"site {site}: {chats:,} chats, {waits:,} waits stored")
        for n in range(args.repeat):
            for value in (20, 30):
                began = time.perf_counter()
                update_site(engine, site, None, None, Thresholds(value, 0))
                ms = (time.perf_counter() - began) * 1000
                print(f"run {n + 1}: T → {value} s: {ms:,.0f} ms (the site's writers wait as long)")
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
