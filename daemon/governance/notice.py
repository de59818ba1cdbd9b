"""The budget warning of the request being served, for its response header.

Admission sets it (``warn`` budgets); the app's after-request hook copies it into the
``x-stackbilt-budget-warning`` response header. A context variable: each request's handler runs
in its own task, so one request's warning never reaches another's response.
"""

from __future__ import annotations

from contextvars import ContextVar

BUDGET_WARNING_HEADER = "x-stackbilt-budget-warning"
budget_warning: ContextVar[str | None] = ContextVar("budget_warning", default=None)
