"""Pure recruiting logic: no I/O, values in and values out, `now` passed in."""
