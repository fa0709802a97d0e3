"""health-mydata benchmarks: ``./dev bench`` (``python -m bench``), issue 8.

One command runs every group, prints each figure's median with its ratio to primitives measured
in the same run, then the issue-8 targets with whether each is met, and writes everything as
JSON (``bench/results/latest.json`` and a time-stamped copy, or ``--json PATH``).

Groups are modules of this package, run in the order of :data:`bench.__main__.GROUPS`:

==============  ===========================================================================
``proofs``      Data Integrity eddsa-jcs-2022 / eddsa-rdfc-2022 sign and verify; JCS
``didcomm``     DIDComm authcrypt pack and unpack
``verifier``    SD-JWT VC + KB-JWT (beside the sd-jwt reference), W3C VP, emergency card
``wallet``      search at 10,000 credentials, backup and restore
``issuer``      hospital batches of 100,000 and the VC-API issue endpoint (its own module)
``services``    services over HTTP (``bench/services.py``, when present)
==============  ===========================================================================

Adding a group (as ``bench/services.py`` does): a module ``bench/<name>.py`` with

.. code-block:: python

    def run(results: Results, *, repeats: int, min_time: float) -> None: ...

that measures with :func:`bench.harness.measure` / :func:`~bench.harness.measure_async` (or
builds :class:`~bench.harness.Figure` objects itself for load tests), adds them with
``results.add`` (``group`` is the table heading, ``baseline`` the name of a primitive or floor
figure added earlier in the run, which the ratio divides by), adds the targets it can judge
(``results.within`` / ``faster_than`` / ``under`` / ``at_least``), and keeps scalars in
``results.info["<name>.<key>"]``. ``min_time < 0.1`` means ``--quick``: keep the run short
(smaller batches, fewer requests). Then add its name to ``GROUPS`` in ``bench/__main__.py``;
an optional module (like ``services``) is listed in ``OPTIONAL`` and skipped when absent.
"""
