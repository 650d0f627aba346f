"""Placeholder until the data-quality area lands."""

assets: list = []
checks: list = []
