"""Use cases: each service takes plain arguments and returns domain objects or raises
domain errors."""
