"""Protocol-neutral core: the internal representation (IR) and the error hierarchy.

Imports nothing else of the project; everything else imports it.
"""
