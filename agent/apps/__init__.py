"""Apps: what the agent does with the building state it keeps (occupancy inference, control)."""
