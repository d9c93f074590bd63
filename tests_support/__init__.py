"""Test helpers shared by several apps and the benchmarks (real servers, not mocks).

Outside the shipped apps on purpose: nothing in the product imports it. The root
conftest.py loads live_server as a pytest plugin.
"""
