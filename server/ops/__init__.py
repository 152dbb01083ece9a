"""Operating a Jigsaw installation: backup, restore, first run."""
