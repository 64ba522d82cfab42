"""Running tries: the task runtime and the executors that host it."""
