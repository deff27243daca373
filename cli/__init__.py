"""The ``redeemflow`` command line: an entry point that parses, calls core and prints."""
