"""Offline analyses a user runs from the command line, on data the gateway stored or a fleet exported."""
