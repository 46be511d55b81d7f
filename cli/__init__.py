"""The `salesbridge` command line: the operator surface and the integrator's mapping tools."""
