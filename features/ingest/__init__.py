"""Data in: raw files → canonical long frames (``unique_id``, ``ds``, Float64 values), checked against the contract.

- :mod:`~features.ingest.io`, :mod:`~features.ingest.table`: lazy scans of CSV, Parquet, NDJSON and JSON, and the
  generic long-table reader with a column mapping;
- :mod:`~features.ingest.parse`: typed parsing of raw columns with errors naming file, column and rows;
- :mod:`~features.ingest.events`: event logs (attacks, alerts) → per-day counts on the Kyiv calendar;
- :mod:`~features.ingest.sources`: one reader per real source (strikes, alerts, outages, weather, market, M4);
- :mod:`~features.ingest.validate`, :mod:`~features.ingest.align`: the regular grid, gap reports, and joining
  inputs onto the target (broadcast national series, match regional ones).
"""
