"""Figures: candidate numbers, non-figure rejection, metric and status, the rule extractor."""
