"""omicsd benchmarks (``make bench``)."""
