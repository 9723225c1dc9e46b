"""The pure core: election calendars and their region names, payload upcasters, where
personal fields sit in a schema, the breach rules and the quick count.

Nothing here reads the clock, talks to Kafka or PostgreSQL, or imports a web framework;
services call these functions live and on replay alike.
"""
