"""Tests of the research code (synthetic sheets, training, evaluation, losses)."""
