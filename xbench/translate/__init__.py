"""Translation: a torch optimizer call or an optax expression, parsed with ``ast`` (never run),
as the optimizer that equals it in the other framework (docs/translate.md).

- ``translation``: the types (Settings, Translation, Untranslatable) and SPEC's safe reading;
- ``parse``: SPEC to a Translation: the framework it is written for, both Cases, the notes;
- ``torch_table``: torch.optim's signatures; a torch call as a Case and its optax counterpart;
- ``optax_table``: optax's signatures and schedules; a chain as a Case and its torch one;
- ``notes``: the conventions a translation had to match, one line each;
- ``code``: a Case as the code printed, every hyper-parameter explicit;
- ``job``: ``translate()``, and ``verify()``, which runs both as ``xbench check`` does.

Its command is ``xbench.cli.translate``. Nothing here imports torch or jax until a
verification runs.
"""
