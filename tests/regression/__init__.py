"""Tests of the product across stages on pinned inputs: the shipped samples and held-out synthetic sheets."""
