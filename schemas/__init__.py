"""Pydantic models: the rules files, documents, figures, records and findings.

Nothing here imports from ``extract``: these models are the contract between stages.
"""
