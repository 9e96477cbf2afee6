"""Importing and exporting customers as CSV.

An import is all or nothing: every row is checked, each problem reported with its line
number, and nothing is kept unless every row is good. The export writes the same
columns, so an exported file imports again into an empty store.

`rows` reads and checks a file's rows, `importing` writes checked rows into the store,
`export` writes the store's customers out.
"""

from crm_store.customer_csv.export import export_rows, write_customers_csv
from crm_store.customer_csv.importing import ImportFailed, ImportResult, Progress, import_customers
from crm_store.customer_csv.rows import (
    BATCH_SIZE,
    COLUMNS,
    CONSENT_WORDS,
    FALSE_WORDS,
    LANGUAGE_ALIASES,
    REQUIRED_COLUMNS,
    TRUE_WORDS,
    CheckedBatch,
    CustomerRow,
    RowProblem,
    checked_batches,
)

__all__ = [
    "BATCH_SIZE",
    "COLUMNS",
    "CONSENT_WORDS",
    "FALSE_WORDS",
    "LANGUAGE_ALIASES",
    "REQUIRED_COLUMNS",
    "TRUE_WORDS",
    "CheckedBatch",
    "CustomerRow",
    "ImportFailed",
    "ImportResult",
    "Progress",
    "RowProblem",
    "checked_batches",
    "export_rows",
    "import_customers",
    "write_customers_csv",
]
