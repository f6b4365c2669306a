"""Every diagnosis code the oracle and the grader can name, each with what it means. NumPy only.

A diagnosis is one of these codes, or several joined by ``+`` with no spaces
(``transposed+activation_derivative``), each keeping its own meaning. The order
is the order in which a compound code names its causes (shape, sign, constant,
batch, outputs, then the recomputed mistake), followed by the codes that stand
alone, those of the other graded parts (forward, loss, SGD step), of the
grader's results and of the course kit's autograder (a part graded on its
own), then those for a wrong quantity or a misplaced one (each combines with a
factor or a shape). The documentation's table of codes is rendered from this
dict when the site is built, and a test holds it to what the oracle can emit.
"""

from __future__ import annotations

CODES: dict[str, str] = {
    "not_summed_over_batch": "A bias gradient of shape (fan_out, N), one per sample, where their sum (fan_out, 1) belongs.",
    "transposed": "The transpose of the right array; for a forward, O returned (N, D_O), samples × features.",
    "wrong_shape": "The right entries in another shape (a flat bias), or not a numeric array of that shape.",
    "negated": "The right value with its sign flipped.",
    "scaled_by_2": "Twice the right value: for half_sse, the ½ of the loss forgotten.",
    "scaled_by_1/2": "Half the right value: the ½ of the loss applied once too often.",
    "scaled_by_N": "N times the right value: a sum over the batch where the loss takes the mean.",
    "scaled_by_1/N": "1/N of the right value: a mean over the batch where the loss sums.",
    "scaled_by_D_O": "D_O times the right value: a sum over the outputs where the loss takes the mean.",
    "scaled_by_1/D_O": "1/D_O of the right value: a mean over the outputs where the loss sums.",
    "activation_derivative": "The activation's derivative taken wrong: at the wrong tensor, left out, or another's.",
    "forward_mistake": "A mistake of the forward pass that the backward inherits; the fix line names it.",
    "zero": "All zeros where the right value is not.",
    "not_finite": "Holds NaN or inf.",
    "missing": "Nothing under this key: a gradient, or a parameter the SGD step should return.",
    "low_precision": "Right only to float16's precision, a dtype the checker does not support.",
    "unknown": "Wrong, and none of the known mistakes explains it.",
    "bias_missing": "The forward leaves out a bias.",
    "output_activation": "The forward applies the hidden activation to the linear output layer too.",
    "wrong_activation": "The forward's hidden layers use another activation than the net's.",
    "weight_transposed": "The forward multiplies by Wᵀ where the seed has W (seen only when W is square).",
    "ascent": "The SGD step climbs the gradient: w + lr·dL/dw.",
    "lr_missing": "The SGD step leaves out the learning rate: w − dL/dw.",
    "lr_squared": "The SGD step applies the learning rate twice: w − lr²·dL/dw.",
    "not_returned": "The SGD step returns None: it updates params in place without returning them.",
    "wrong_type": "The backward or the SGD step returns something other than a dict.",
    "wrong_gradients": "The backward as a graded part: some gradient is wrong (its row names the code).",
    "unexpected_key": "A gradient under a key the net has no parameter for.",
    "not_defined": "The course kit's autograder: the file defines no function for this part.",
    "not_implemented": "The course kit's autograder: the part still raises the starter's NotImplementedError.",
    "raised": "The course kit's autograder: the part raised (the output says what); the other parts are still graded.",
    "not_graded": "The course kit's autograder: the submission stopped (timed out, crashed) before this case was graded.",
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
