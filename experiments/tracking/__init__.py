"""Everything that talks to MLflow: the client wrapper, what a job logs, charts, the pyfunc model and promotion.

``forecast`` never imports this package (nor MLflow): the library works without a tracking store.
"""
