"""Optional extension plugins: Pyroscope profiling and multi-tenant configuration."""
