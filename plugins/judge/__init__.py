"""First-party vlmr1 plugin 'judge' (filled in by its own module files)."""
