"""HTTP handlers of volt-admin, one module per resource."""
