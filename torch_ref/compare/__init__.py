"""The main job's engine: the manual net and its torch twin trained side by side.

- ``lockstep``: the one loop that steps both twins on the same mini-batches and records how far apart they are;
- ``datasets``: the built-in generated task, scikit-learn's digits, and mini-batches;
- ``plot``: the picture of a run (matplotlib, an optional extra).
"""
