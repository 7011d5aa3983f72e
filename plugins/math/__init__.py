"""First-party vlmr1 plugin 'math' (filled in by its own module files)."""
