"""The emulator's own tests use the session emulator from tests/conftest.py."""
