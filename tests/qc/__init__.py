"""Tests of logdigit.qc."""
