"""Tests of logdigit.model."""
