"""dbt's `exceptions` context object for sqlfluff's jinja templater, which lints without dbt.

At lint time no compiler error is raised: the macro's checks run in dbt itself.
"""


def raise_compiler_error(message: str) -> str:
    return ""
