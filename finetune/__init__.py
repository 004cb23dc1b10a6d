"""volt-finetune: the LoRA fine-tuning worker (issue #6 builds it)."""
