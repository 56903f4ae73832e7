"""Evidence files, database models and migrations."""
