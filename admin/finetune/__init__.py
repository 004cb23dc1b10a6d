"""Fine-tuning in the control plane: the Files and jobs routes, their views, and its wiring
(app keys, install, the embedded run's worker). The job logic lives in `finetune`."""
