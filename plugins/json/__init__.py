"""First-party vlmr1 plugin 'json' (filled in by its own module files)."""
