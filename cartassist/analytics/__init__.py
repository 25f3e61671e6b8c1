"""The merchandisers' analytics page, its CSV export and charts (docs/ANALYTICS.md).
The figures come from ``cartassist.services.analytics.analytics_compute``."""
