"""Real-time tracking: positions in, zone and rule alerts out, verified by people."""
