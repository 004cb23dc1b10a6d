"""Fine-tuning's one home: the job logic admin's routes and the `volt-finetune` worker share
(states, plan, data format, artifact paths, store, settings; none of it imports torch or peft),
and the worker itself (`worker`, `train`), which admin never imports."""
