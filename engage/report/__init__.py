"""Stage 4, ``engage report``: what the owner accepts per model, and how published posts did.

``measure`` computes every figure from the review store (opened read-only) and, given a newer
archive, from the owner's own posts made close in time to each published one; ``render`` shows
them as a text table, report.json and report.html.

Must not: write to the review store or an archive, or compute a statistic of its own (the
intervals and tests are ``engage.stats``).
"""
