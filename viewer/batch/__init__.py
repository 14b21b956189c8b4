"""Batch AI over archives on a distributed engine (Qt-free): results log, workers, engines."""
