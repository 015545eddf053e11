"""Getting events out: the outbox dispatcher, the HTTP sender with its signatures, the SSRF
guard. To add a channel, copy sender.py: a function that takes a claimed message and answers
an Attempt."""
