"""Programming sessions in the clinic: suggestions on the device grid, reports, corrections."""
