"""The model server's image: which one (resolve.py), building and pushing it (build.py), and
the registry (registry.py)."""
