"""The codes for a wrong quantity or a misplaced one, each with what it means (to merge into the vocabulary)."""

from __future__ import annotations

CODES: dict[str, str] = {
    "swapped_with_<name>": "Another parameter's right gradient (or its transpose) under this key: keys swapped.",
    "returned_parameters": "The parameter's own values where its gradient belongs.",
    "weight_decay": "A penalty's gradient λ·W added to the right one; the line gives λ.",
    "update_not_gradient": "The SGD step −lr·dL/dw returned where dL/dw belongs; the line gives lr.",
    "one_sample": "The gradient of one sample only, the first or the last (the line says which): a loop that assigns.",
    "product_of_sums": "The batch summed before the outer product, (Σₙ dL/dZₙ)(Σₙ Xₙ)ᵀ, where the products' sum belongs.",
    "pre_activation": "The pre-activation H where the activation Ĥ belongs in a weight's gradient (dL/dW_O = dL/dO · Hᵀ).",
    "output_activation_derivative": "An activation's derivative applied at a linear output, or a non-linear output's left out.",
    "wrong_axis": "A bias gradient summed over the features (axis 0) instead of the batch, in whatever shape it came.",
}
