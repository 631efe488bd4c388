"""Seed data shipped with the package (jurisdictions, a sample municipality list)."""
