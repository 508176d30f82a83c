"""Experiments: the evaluation harness, the dropout sweep, the CelebA reproduction and the demo.

Entry points (each writes one results folder and returns its path):
:func:`~medinpaint.experiments.demo.run_demo`,
:func:`~medinpaint.experiments.dropout.run_dropout`,
:func:`~medinpaint.experiments.celeba.run_celeba_reproduction`. Import them from their modules;
this package imports nothing heavy.
"""
