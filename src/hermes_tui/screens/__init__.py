"""Modal screens: approval details, help, a session's transcript, confirm quit."""
