"""Models: the seam between Kern's run loop and a model provider."""
