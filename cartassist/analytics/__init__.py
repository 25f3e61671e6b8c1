"""The merchandisers' analytics page, its CSV export and charts (docs/ANALYTICS.md).
The figures come from ``cartassist.outcomes.services.analytics.analytics_compute``."""
