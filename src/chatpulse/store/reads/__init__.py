"""The views' queries, one module per view (agents, queue, today; RightNow reads
store/live_totals.py), and what they share (common). Each takes the site first and uses an index
of tables.py.

The site's versions are re-exported here: every view request reads them first.
"""

from chatpulse.store.reads.common import department_version, site_versions

__all__ = ["department_version", "site_versions"]
