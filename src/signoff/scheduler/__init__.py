"""The scheduler: fires due timers (timeouts, reminders, escalations) claimed from the database."""
