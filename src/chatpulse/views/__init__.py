"""The four Real Time views, one module each: a request (site, window, filters) in, JSON out."""
