"""People and their credentials: accounts, passwords, lockout, MFA, site settings."""
