"""Test helpers shared by several apps (real servers, not mocks)."""
