"""engage: fine-tune a model on your own posts, with you approving every post it writes.

The folders are the pipeline, in order; a stage may import the shared modules at this level,
``archive_parsers`` and the stages before it, never one after it (``tests/test_layout.py`` checks):

    dataset/     an archive in, SFT and DPO datasets out (every data rule)     engage build-dataset
    training/    model folders and what recipes/sft.py and recipes/dpo.py share  engage tiny-model, base-model
    review/      candidates, the owner's decisions, export, feedback           engage generate, review, export, feedback
    report/      acceptance per model, and how published posts did           engage report

``simulation/`` is a synthetic account with known tastes (``engage sample-archive``, the simulated
audience and owner) for demos, tests and benchmarks; it may use every stage and no stage imports it.

The modules at this level are shared and import no stage: ``errors`` (a person's mistake as one
line), ``output`` (writing a file or folder whole or not at all), ``progress``, ``quiet`` (library
noise), ``durations``, ``stats`` (intervals and exact tests), ``arguments`` (flag value types) and
``cli`` (assembles each stage's ``cli.py`` into the ``engage`` command).
"""

__version__ = "0.1.0"
