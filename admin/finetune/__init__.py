"""Fine-tuning: the Files API, LoRA jobs, and the state shared with `volt-finetune` workers."""
