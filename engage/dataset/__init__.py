"""Stage 1, ``engage build-dataset``: an X archive or post table in, SFT and DPO datasets out.

Owns every data rule: the score and who is eligible (``scoring``), the SFT set's top fraction
(``selection``, ``baseline`` for ranking against the owner's own median), DPO pairs of posts made
close in time (``pairing``) and the test that a pair's lead is not noise (``evidence``), the time
split (``splits``), all of them applied in one place (``rules``); then the row formats
(``formats``), the files TRL loads (``files``), the dataset card (``card``) and its what-if table
(``what_if``), written by ``build``.

Must not: read an archive except through ``archive_parsers``, load a model, or import a later stage.
"""
