"""The words every file, payload and template shares, each spelled once.

A time (:mod:`.times`), a duration (:mod:`.durations`), consent (:mod:`.consent`)
and a product (:mod:`.products`) mean the same thing in a trigger, an experiment,
a recommendation filter, a retention policy, an ESP webhook and a template. Each is
parsed and checked here and nowhere else, so one spelling that works in one file
works in every file, and a mistake gets the same message wherever it is made.

These are leaves of the package graph: they import nothing from ``tailor``.
"""
