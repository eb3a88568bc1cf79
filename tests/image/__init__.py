"""Tests of logdigit.image."""
