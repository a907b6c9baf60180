"""The workspace's resources as the emulator keeps them: the model, the store, the rules Azure
applies, long-running operations and provisioning. The ARM front (`emulator.arm`) and Azure
Monitor (`emulator.monitor`) both build on it; it imports neither (arm → monitor → resources)."""
