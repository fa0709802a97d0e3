"""Data users: presentation requests, verification reports of named checks, policies."""
