"""Placeholder until the analysis area lands."""

assets: list = []
