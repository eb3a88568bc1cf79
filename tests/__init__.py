"""Tests; the folders mirror the logdigit package."""
