"""Customer segments: rule-based (lifecycle, RFM, lapsed, abandoners, country, order value).

:mod:`.rules` decides membership from plain summaries; :mod:`.compute` reads them
from the feature store and records who entered and left each segment.
"""
