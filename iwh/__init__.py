"""Integration warehouse core: settings, pseudonymisation, landing-zone contract, raw loading, publication."""
