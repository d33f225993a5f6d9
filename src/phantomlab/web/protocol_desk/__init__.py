"""Protocol desk of the clinic: check a protocol, see its dose card and full verdict."""
