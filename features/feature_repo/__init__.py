"""leadscore's Feast repository: entity, sources, views and the lead_scoring_v1 service."""
