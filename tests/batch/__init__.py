"""Tests of logdigit.batch."""
