"""Tests for kern.tools (a package so its test modules do not collide with tests/db/test_schema.py)."""
