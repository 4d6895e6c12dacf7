"""Read-models for the dashboard's pages and the command line: nothing here changes state.

Only ``web`` and ``cli`` import these (the import contract in ``pyproject.toml`` checks it).
"""
