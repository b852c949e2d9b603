"""Register simulated data loggers in the registry (``bogda hj212 simulate --register``, tests, benchmarks).

Each simulated device reports for a parent site of its own (an outlet for ``cems``/``wastewater``, an air station
for ``air``), marked simulated, so its observations land in series of that site (spec hj212.md §3.10).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from bogda.hj212.simdevice import SimDevice
from bogda.registry.devices import add_device
from bogda.registry.sites import SiteInput, add_site
from bogda.store.db import Store
from bogda.store.schema import device

__all__ = ["register_fleet"]

_PARENT_KIND = {"cems": "outlet", "wastewater": "outlet", "air": "air_station"}


def register_fleet(store: Store, devices: Iterable[SimDevice], **attrs: Any) -> int:
    """Add each device not yet registered (MN, PW, protocol, ST) under a simulated parent site; returns how many
    were added. ``attrs`` become the device site's ``hj212`` settings (``mode``, ``crc_mode``, ``pw_check``)."""
    added = 0
    with store.begin() as conn:
        known = set(conn.execute(select(device.c.mn)).scalars())
        for d in devices:
            if d.mn in known:
                continue
            parent = add_site(
                conn,
                SiteInput(
                    kind=_PARENT_KIND.get(d.kind, "outlet"),
                    code=f"SIM-{d.mn}",
                    name=f"模拟{d.kind} {d.index}",
                    simulated=True,
                ),
            )
            sid = add_device(
                conn,
                mn=d.mn,
                password=d.pw,
                parent_id=parent,
                protocol={0: "2005", 1: "2017", 2: "2025"}[d.version],
                st=d.st,
                simulated=True,
            )
            if attrs:
                from bogda.store.schema import site

                conn.execute(site.update().where(site.c.id == sid).values(attrs={"hj212": dict(attrs)}))
            added += 1
    return added
