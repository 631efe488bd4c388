"""The domain: plain functions with typed arguments that add/flush but never commit."""
