"""Engagement signals: the event log, point-in-time transforms, the timeline parser and Feast."""
