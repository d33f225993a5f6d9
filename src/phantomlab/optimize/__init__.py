"""PhantomLab optimize subpackage (see DESIGN.md)."""
