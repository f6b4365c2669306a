"""The graded parts: the functions of the seed a student writes and the grader calls. Standard library only.

One entry per part, in the seed's order (forward, loss, backward, sgd_step):
its name, how it is called, the kind of value it must return and the words
for that value in messages. ``child`` asks a submission for these functions,
``proxies`` holds each result to its kind and words, and ``cases.grade``
reports a case's parts in this order. The child runs in the student's
process, so this module imports nothing beyond the standard library.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GradedPart:
    """One function of the seed that is graded.

    ``returns`` is the ``exchange`` kind its result must travel as ("array",
    "float" or "dict"); ``must_return`` says that in words ("it must return …"),
    and ``result_words`` names its result ("before returning …"). ``keyword``
    is the argument of ``cases.grade`` that takes it (``loss_fn`` for the loss,
    whose ``loss`` argument names the net's loss function).
    """

    name: str
    signature: str
    returns: str
    must_return: str
    result_words: str
    keyword: str


GRADED_PARTS: dict[str, GradedPart] = {
    p.name: p
    for p in (
        GradedPart("forward", "forward(params, I) -> O", "array", "an array O (D_O, N)", "its output", "forward"),
        GradedPart("loss", "loss(O, Y) -> float", "float", "a number", "the loss", "loss_fn"),
        GradedPart("backward", "backward(params, I, Y) -> grads", "dict",
                   "a dict of gradients keyed like params", "gradients", "backward"),
        GradedPart("sgd_step", "sgd_step(params, grads, lr) -> params", "dict",
                   "a dict of parameters keyed like params", "the updated parameters",
                   "sgd_step"),
    )
}
