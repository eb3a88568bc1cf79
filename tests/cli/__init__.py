"""Tests of logdigit.cli."""
