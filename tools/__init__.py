"""Tools that stand beside the product: the GitHub runner and repositories that use the action,
played against the emulator; the reliability scenarios and their report; the documentation
generator. They import deployer/ and emulator/, never tests/ (tests import them)."""
