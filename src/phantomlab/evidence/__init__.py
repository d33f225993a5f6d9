"""PhantomLab evidence subpackage (see DESIGN.md)."""
