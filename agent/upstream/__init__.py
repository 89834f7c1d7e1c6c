"""Forwarding stored readings to an upstream broker, from the store's outbox."""
