"""Benchmark of the poller against the naive polling loop, on the local emulators.

``python -m bench`` (``make bench``) starts the official Pub/Sub and Firestore emulators and
the project's Insights emulator, runs the project's poll and the naive loop side by side,
and writes ``bench/results/``. See ``bench/README.md`` for what each number means.
"""
