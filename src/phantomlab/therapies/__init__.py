"""PhantomLab therapies subpackage (see DESIGN.md)."""
