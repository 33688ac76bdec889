"""The core every stage stands on: IO over fsspec, shards and done markers, hashing, typed
configuration, executors and the command runner. Nothing here knows a stage's domain."""
