"""Non-site supervision (非现场监管): CEMS, electricity-use monitoring and production plans → clues.

Pure core (enforcement.md): :mod:`.cems` validity / O2 / exceedance, :mod:`.detectors` and :mod:`.operations`
falsification and data-quality rules, :mod:`.power` meter states and the E rules, :mod:`.plans` staggered
production and emergency measures, :mod:`.clues` finding drafts, evidence bundles, tuning and compliance strings,
:mod:`.catalogue` the whole catalogue over many outlets and meters. No database here.
"""
