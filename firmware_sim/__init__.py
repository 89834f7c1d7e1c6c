"""A simulated building and its devices, for demos and tests without hardware."""
