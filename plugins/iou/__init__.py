"""First-party vlmr1 plugin 'iou' (filled in by its own module files)."""
