"""HTTP routes, one router per resource, all under /v1 except the operations endpoints."""
