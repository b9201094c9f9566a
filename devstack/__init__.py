"""Development tooling: the local stack behind `make demo` and the tests. Not deployed."""
