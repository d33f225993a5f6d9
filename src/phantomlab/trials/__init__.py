"""PhantomLab trials subpackage (see DESIGN.md)."""
