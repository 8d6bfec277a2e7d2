"""CLI subcommands beyond `run` and `tasks`; each module registers its own with `@command`."""
