"""The only code that touches a database: tables, queries, claims and migrations."""
