"""`volt-finetune`: the worker that claims queued fine-tuning jobs and trains LoRA adapters."""
