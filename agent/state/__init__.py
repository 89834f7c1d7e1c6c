"""What the agent currently knows about every point: latest values, rolling statistics, staleness."""
