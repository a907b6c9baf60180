"""The emulator's Azure Monitor: metrics computed from the traffic its scoring gateway served."""
