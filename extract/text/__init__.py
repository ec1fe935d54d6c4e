"""Text stages: normalisation with an offset map, furniture removal, splitting, metadata."""
