"""Tests of logdigit.trace."""
