"""Kassa: a self-hostable crypto checkout service, wire-compatible with the Copperx API."""

__version__ = "0.1.0"
