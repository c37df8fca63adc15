"""Stage 3, the owner in the loop: ``engage generate``, ``review``, ``export`` and ``feedback``.

``generate`` samples candidates from a trained model into the review ``store`` (SQLite), each
flagged when it is a near copy of the owner's posts (``near_copy``), too long for the platform or
carries a link, mention or hashtag (``post_flags``). The owner decides in the review app
(``review_app/``, over this store). ``export`` writes approved posts only, labelled as
AI-generated; ``feedback`` turns the decisions into the next round's DPO and KTO data.

Must not: post anything anywhere, export a candidate the owner has not approved, or import the
report stage.
"""
