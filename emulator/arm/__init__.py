"""ARM and the Azure ML online-endpoint control plane."""
