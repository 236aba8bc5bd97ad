"""A synthetic mortgage CRM: leads, events, outcomes and each lead's true propensity."""
