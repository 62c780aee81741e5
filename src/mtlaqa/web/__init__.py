"""Local web page and JSON API for scoring dive videos (`mtlaqa serve`)."""
