"""Trained networks: the numeric layer that asks whether gradient descent on
in-context regression lands on a proven construction.

* :mod:`.model`   : any construction exported to a trainable torch module, from
  its one definition (the same traversal of named blocks the evaluators use);
  a trained model and a construction share one parameter space.
* :mod:`.data`    : in-context regression prompts as torch batches.
* :mod:`.train`   : seeded, resumable training with presets, on CUDA or the CPU.
* :mod:`.compare` : the metrics that compare a trained model with a construction.
* :mod:`.experiment` : an experiment (model, data, presets, metrics) run over
  seeds, cached, summarised with confidence intervals.

No engine imports this package; the catalogue (``theorems/``) declares each
theorem's experiments and reads their results as empirical evidence, never
as a verdict.
"""
