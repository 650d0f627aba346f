"""Synthetic delivery generator: a landing zone of fake Jobbsjansen and NIR deliveries plus its ground truth."""

from iwh_synth.generator import SampleError, generate

__all__ = ["SampleError", "generate"]
