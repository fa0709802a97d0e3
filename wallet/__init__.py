"""Citizen wallet: receive, keep, find, present with consent, back up and restore."""
