"""PhantomLab mechanisms subpackage (see DESIGN.md)."""
