"""The pages people read: language, number formats, templates and the shared table component.

Every report (analysis, auditors', unit pages, codebook) renders through this package, so each
is in the reader's language (``IWH_REPORT_LANGUAGE``: bokmål by default, English on request),
writes numbers as that language does, and shows the same table, banner and run facts.
"""

from iwh.reporting.language import N_, SUPPRESSED, Language
from iwh.reporting.pages import RunFacts, render
from iwh.reporting.tables import Column, Table, table

__all__ = ["N_", "SUPPRESSED", "Column", "Language", "RunFacts", "Table", "render", "table"]
