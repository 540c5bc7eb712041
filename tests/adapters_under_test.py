"""Loss and gradients of the data loss, straight from each framework's autodiff."""

import numpy as np


def torch_loss_and_grads(problem, case, x, y):
    import torch.nn.functional as F

    from xbench.run.registry import load_adapter

    adapter = load_adapter("torch")(problem, case)
    from xbench_adapters.torch_adapter import images_to_native

    loss = F.mse_loss(adapter.forward(adapter._tensor(images_to_native(x))), adapter._tensor(y))
    loss.backward()
    grads = {n: p.grad for n, p in adapter.named.items() if p.grad is not None}
    return float(loss.detach()), adapter.to_canonical(grads)


def jax_loss_and_grads(problem, case, x, y):
    import jax
    import jax.numpy as jnp

    from xbench.run.registry import load_adapter

    adapter = load_adapter("jax")(problem, case)
    from xbench_adapters.jax_adapter import BatchNormSettings, apply, flatten

    def loss_fn(params):  # training mode: batch norm normalises with the batch's statistics
        norm = BatchNormSettings.of(case)
        output = apply(problem.model, params, adapter.running, jnp.asarray(x), norm=norm)[0]
        return jnp.mean((output - jnp.asarray(y)) ** 2)

    loss, grads = jax.value_and_grad(loss_fn)(adapter.tree)
    return float(loss), {n: np.asarray(v) for n, v in flatten(grads).items()}
