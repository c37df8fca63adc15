"""Stage 2: the models the recipes train, and what ``recipes/sft.py`` and ``recipes/dpo.py`` share.

``engage tiny-model`` (``tiny_model``) and ``engage base-model`` (``base_model``) write model folders
with no hub download. A recipe's ``main`` runs its steps in order, each a call in here: read the
dataset folder (``inputs``), check the set-up and find where to resume (``start``), load the base
and the adapter (``qlora``), batch DPO pairs (``dpo_batches``), train and evaluate and end
(``recipe``, with the script arguments and the command-line run), then save (``outputs``) the
adapter, run facts (``run_facts``) and model card (``model_card``).

Must not: apply a data rule (a run reads the dataset files as ``engage build-dataset`` wrote them),
or import the review or report stages.
"""
