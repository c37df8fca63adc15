"""The Gradio review app over the review store (see the issue tracker: not built yet).

Kept importable so the package layout DESIGN.md names is in place; it holds no code until the
review store exists.
"""
