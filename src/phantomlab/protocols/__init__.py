"""PhantomLab protocols subpackage (see DESIGN.md)."""
