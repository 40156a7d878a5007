"""The embedded backend: a directory of SQLite databases."""
