"""``fastcost compare``: the same least-squares fit with TensorFlow's Keras recipe,
scikit-learn and fastcost's solvers, on one split, and what each cost.

Modules, by concept:

* :mod:`~fastcost.compare.result` -- :class:`~fastcost.compare.result.RunResult`,
  what one row gives, and the measurement steps every runner follows (warm-up
  outside the measurement, median of repeated fits, test scores);
* :mod:`~fastcost.compare.runners` -- the runner protocol, the
  :class:`~fastcost.compare.runners.Settings` every runner gets, and the one
  registry of rows (:data:`~fastcost.compare.runners.RUNNERS`);
* :mod:`~fastcost.compare.solvers` -- fastcost's own rows, local and on Dask
  (the baselines live in :mod:`fastcost.baselines`);
* :mod:`~fastcost.compare.run` -- loading the data, running the rows, the
  command's flow (:func:`~fastcost.compare.run.compare`);
* :mod:`~fastcost.compare.report` -- the table, the JSON document and the chart;
* :mod:`~fastcost.compare.machine` -- the machine, the library versions and
  fastcost's build.

This package imports none of them itself; import the module you need.
TensorFlow, dask and matplotlib are imported only by the functions that use them.
"""
