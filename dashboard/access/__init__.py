"""Scoped access: rules and masks from KAFKAVIEW_ACCESS_FILE, and their enforcement."""
