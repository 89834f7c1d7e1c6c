"""edgewise gateway agent."""
