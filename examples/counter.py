"""A counter object: storage, RPC, an alarm, eviction and wake, in one process.

Run it with ``python examples/counter.py``; it keeps its data in ``./.roost`` so a second
run continues where the first stopped.
"""

from __future__ import annotations

import asyncio
import time

import hub


class Counter(hub.DurableObject):
    """Counts visits in SQL and remembers when it was last reset by its alarm."""

    def __init__(self, ctx: hub.DurableObjectState, env: hub.Env) -> None:
        super().__init__(ctx, env)
        ctx.storage.sql.exec(
            "CREATE TABLE IF NOT EXISTS visits (at REAL NOT NULL, who TEXT NOT NULL)"
        )

    async def visit(self, who: str) -> int:
        """Record a visit and return how many there were."""
        self.ctx.storage.sql.exec("INSERT INTO visits VALUES (?, ?)", time.time(), who)
        if await self.ctx.storage.get_alarm() is None:
            await self.ctx.storage.set_alarm(time.time() * 1000 + 200)
        row = self.ctx.storage.sql.exec("SELECT count(*) AS n FROM visits").one()
        return int(row["n"] or 0)

    async def last_alarm(self) -> float | None:
        """When the alarm last ran (epoch seconds), if ever."""
        value = await self.ctx.storage.get("last_alarm")
        return None if value is None else float(value)

    async def alarm(self, info: hub.AlarmInfo) -> None:
        """Runs 200 ms after the first visit, even if the object was evicted meanwhile."""
        await self.ctx.storage.put("last_alarm", time.time())


async def main() -> None:
    """Visit a counter, evict it, wake it, and wait for its alarm."""
    async with hub.Hub(objects={"COUNTER": Counter}, data_dir=".roost") as app:
        counter = app.env.COUNTER.get_by_name("front-page")
        print(f"visits: {await counter.visit('ada')}")
        await app.hibernate("COUNTER", "front-page")
        print(f"evicted; active now: {app.is_active('COUNTER', 'front-page')}")
        print(f"visits after wake: {await counter.visit('bob')}")
        alarmed = asyncio.Event()
        app.add_listener(lambda event: alarmed.set() if event.kind == "alarm" else None)
        await asyncio.wait_for(alarmed.wait(), timeout=5)
        print(f"alarm ran at: {await counter.last_alarm()}")
        stats = app.stats()
        print(f"runtime ready: {stats.active} active, {stats.evicted} evicted objects")


if __name__ == "__main__":
    asyncio.run(main())
