"""Satellite fire points (卫星火点): pure core of fire.md.

Modules:

* :mod:`~bogda.fire.records` — detection schema, header aliases, value encodings;
* :mod:`~bogda.fire.formats` — read any supported file into one normalised frame, de-duplication;
* :mod:`~bogda.fire.bulletins` — straw-burning bulletin lists;
* :mod:`~bogda.fire.region` — county attribution in WGS-84;
* :mod:`~bogda.fire.masks` — flags, registry and learned heat-source masks, verdict feedback;
* :mod:`~bogda.fire.cluster` — overpass clustering, cross-satellite link distances;
* :mod:`~bogda.fire.events` — event tracking over days, verdict write-back;
* :mod:`~bogda.fire.alerts` — alerts, repeat suppression, finding drafts;
* :mod:`~bogda.fire.stats` — bulletin-comparable pixel counts per county and day/month;
* :mod:`~bogda.fire.feed` — polling helpers (FIRMS URL, folder scan, feed health);
* :mod:`~bogda.fire.pipeline` — :func:`~bogda.fire.pipeline.process_detections`, the one call a service makes.
"""

from __future__ import annotations
