"""An app written against the original scitrera-app-framework 0.0.69, unchanged: only the installed package
differs. ``python -m legacy_app`` runs it; ``tests/compat/test_legacy_app.py`` checks what it prints."""
