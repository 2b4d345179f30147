"""Adapters to the outside systems; each owns its wire format and error translation."""
