"""Pure stall logic: snapshots in, values out, ``now`` passed in. No ORM, no I/O."""
