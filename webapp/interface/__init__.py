"""The doors: JSON API, browser pages, staff pages and the command line. Thin, no rules."""
