"""Tests of logdigit.io."""
