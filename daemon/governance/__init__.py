"""Governance: named clients and their keys, rate limits, budgets, policies and admission.

Every model request passes ``admission.Governance.admit`` once (after its model resolved) and is
released once when its record is finished (``compose.settle``). Owns who a request is, whether it
may run, and what it spent; does not own routing, pricing (``costs``) or storage of events.
"""
