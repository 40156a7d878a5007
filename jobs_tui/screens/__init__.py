"""Screens of the admin app: one per mode, plus detail, help and confirmation."""
