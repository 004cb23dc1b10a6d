"""The console session: its rows in Postgres (`store`) and the session behind a request, its
cookie and the checks a form that changes something passes (`request`)."""
