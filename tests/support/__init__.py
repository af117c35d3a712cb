"""Helpers shared by the whole test suite (boto3 clients wired to an in-process ASGI app, shape checks)."""
