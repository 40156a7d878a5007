"""The engine: claiming, running and finishing jobs."""
