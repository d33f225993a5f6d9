"""PhantomLab fields subpackage (see DESIGN.md)."""
