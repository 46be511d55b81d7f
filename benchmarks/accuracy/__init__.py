"""Trigger accuracy: labelled traffic, an independent expectation, precision and recall per rule."""
