"""Realistic fictional demo data."""
