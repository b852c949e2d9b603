"""Source tracing (architecture.md floor 4): PM2.5 source apportionment by PMF with EPA ESAT (governance.md §3.11).

- :mod:`bogda.tracing.apportionment`: pure functions before and after the factorisation (uncertainty, S/N,
  categories, fingerprints, mass by factor, marker labels, proposed source shares);
- :mod:`bogda.tracing.esat`: runs a job in ESAT's own environment as a subprocess;
- :mod:`bogda.tracing.esat_worker`: the script that runs there (imports nothing from bogda);
- :mod:`bogda.tracing.runs`: stored runs and the adoption of their shares as the bureau's ``source_share`` rows.
"""
