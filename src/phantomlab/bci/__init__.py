"""PhantomLab bci subpackage (see DESIGN.md)."""
