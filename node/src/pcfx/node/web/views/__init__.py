"""What each page of the web app shows, read from the store (plain functions, no HTTP in them)."""
