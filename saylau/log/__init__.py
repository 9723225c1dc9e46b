"""The event log: Kafka topics and clients, the per-partition hash chain, decoding records,
the log's identity, moving it to another cluster, dead letters, and signed chain anchors."""
