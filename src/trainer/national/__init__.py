"""The national view (国): nationwide aggregates by prefecture and designated city."""
