"""Loading the integrator-edited configuration files (connectors/, mappings/)."""
