"""The standard sensors (Airflow's providers-standard set), built on BaseSensorOperator.

Each module is imported only when one of its names is first used, from `taskkit`.
"""
