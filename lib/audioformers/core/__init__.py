"""Shared foundations: profiles, device, seeding, results and provenance, storage paths, argument checks."""
