"""PhantomLab cohorts subpackage (see DESIGN.md)."""
