"""``python -m facerecon``: the same command line as ``facerecon``."""
from .cli import main

main(prog_name="facerecon")
