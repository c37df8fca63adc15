"""A synthetic account with known tastes, so the whole loop can be measured against ground truth.

``sample_archive`` writes an X archive with the real format's quirks (``engage sample-archive``)
whose engagement follows the words; ``audience`` holds those tastes as a documented function of a
post's text, and a simulated owner who reviews candidates through the review store.

Used by demos, tests and benchmarks only: it may use every stage, and no stage imports it (nothing
on the real path ever sees a simulated taste).
"""
