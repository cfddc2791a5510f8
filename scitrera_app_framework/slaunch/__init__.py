"""slaunch: build Python environments from manifests and launch versioned apps (not implemented yet)."""
