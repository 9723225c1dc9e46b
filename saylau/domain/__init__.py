"""The pure core: election calendars, payload upcasters and the breach rules.

Nothing here reads the clock, talks to Kafka or PostgreSQL, or imports a web framework;
services call these functions live and on replay alike.
"""
