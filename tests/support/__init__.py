"""Test support code shared by the test suite: fakes and servers that stand in for the outside world."""
