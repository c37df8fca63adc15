"""engage: fine-tune a model on your own posts, with you approving every post it writes."""

__version__ = "0.1.0"
