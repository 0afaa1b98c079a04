"""Entry point of a ``process`` executor's training process (see executors.child_main)."""

from steward.training.executors import child_main

if __name__ == "__main__":
    child_main()
