"""Data in, indicators out: :mod:`features.ingest` reads raw files into canonical long frames,
:mod:`features.indicators` computes winter-stress indicators over them with numba kernels; :mod:`features.contract`
and :mod:`features.errors` are the vocabulary every layer shares (docs/data.md)."""
