"""Translation: a torch optimizer call or an optax expression, parsed with ``ast`` (never run),
as the optimizer that equals it in the other framework (docs/translate.md). ``job`` has
``translate()`` and ``verify()``; ``parse`` reads SPEC (with ``translation``'s types and safe
literals) into both Cases through ``torch_table`` and ``optax_table``; ``notes`` says what was
matched and ``code`` prints it. Its command is ``xbench.cli.translate``. Nothing here imports
torch or jax until a verification runs.
"""
