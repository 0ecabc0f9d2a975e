"""CLI-wide checks: every verb, every option rule, a runtime-only install."""
