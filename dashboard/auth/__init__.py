"""Signing in through an identity provider (OIDC, LDAP) and saying why access is what it is."""
