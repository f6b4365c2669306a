"""The course kit: ``manual-backprop assignment new`` makes an assignment and its Gradescope autograder,
``manual-backprop assignment check`` runs that autograder here before it is uploaded.

- ``config``: the autograder's config.json (parts, points, hidden seed, limits, policy);
- ``templates``: the starter, the solution, the notebook and the public tests, from the registry's equations;
- ``wheel``: this project's wheel, made from the running code, for the autograder to install;
- ``create``: ``assignment new``; ``autograder``: what ``run_autograder`` runs; ``dryrun``: ``assignment check``;
- ``files/``: ``setup.sh`` and ``run_autograder``, copied into each autograder.

The autograder's side needs NumPy only: it grades with finite differences unless its config says autograd.
"""
