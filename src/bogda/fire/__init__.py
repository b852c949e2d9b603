"""Satellite fire points (卫星火点): pure core of fire.md.

Modules: :mod:`~bogda.fire.formats` (read any supported file into one normalised frame), :mod:`~bogda.fire.region`
(county attribution), :mod:`~bogda.fire.masks` (flags, registry and learned heat-source masks, verdict feedback),
:mod:`~bogda.fire.cluster` (overpass clustering, cross-satellite linking), :mod:`~bogda.fire.events` (event
tracking, alerts, finding drafts), :mod:`~bogda.fire.stats` (bulletin-comparable pixel counts) and
:mod:`~bogda.fire.pipeline` (:func:`~bogda.fire.pipeline.process_detections`, the one call a service makes).
"""

from __future__ import annotations
