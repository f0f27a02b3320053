"""Work that runs beside the chat: background processes, background tasks and cron jobs."""
