"""``fastcost compare``: the same least-squares fit with TensorFlow's Keras recipe,
scikit-learn and fastcost's solvers on one split, and what each cost. The package
imports none of its modules (result, runners, run, report, meter, status);
TensorFlow, dask and matplotlib are imported only where they are used."""
