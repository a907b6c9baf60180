"""The reliability and security scenarios: each runs the real command line against the
emulator and returns its figures; `make test` asserts their goals, `make reliability` writes
docs/reliability.md (report.py)."""
