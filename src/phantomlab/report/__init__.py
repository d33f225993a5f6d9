"""PhantomLab report subpackage (see DESIGN.md)."""
