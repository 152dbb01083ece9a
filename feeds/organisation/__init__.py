"""The organisation: agencies, teams and their members, people's accounts (administrators)."""
