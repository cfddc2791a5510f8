"""Optional extension plugins: Pyroscope profiling and multi-tenant configuration."""

__all__: list[str] = []  # the plugins live in submodules (pyroscope_plugin, multi_tenant)
